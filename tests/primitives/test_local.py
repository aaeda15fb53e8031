"""Local mode (no server, no Slurm): hpcq's EstimatorV2/SamplerV2 against Aer's own primitives on
broadcast PUBs, option handling, and bad input refused before anything runs."""

from __future__ import annotations

import numpy as np
import pytest
from qiskit import ClassicalRegister, QuantumCircuit
from qiskit.circuit.library import efficient_su2
from qiskit.primitives import BasePrimitiveJob, PrimitiveJob
from qiskit.quantum_info import SparsePauliOp
from qiskit_aer.primitives import EstimatorV2 as AerEstimator
from qiskit_aer.primitives import SamplerV2 as AerSampler

from hpcq.primitives import EstimatorV2, OptionsError, SamplerV2
from hpcq.sim.noise import build_noise_model
from hpcq.sim.spec import NoiseSpec

TOL = 1e-12


def _ansatz(n=3):
    return efficient_su2(n, reps=1)


def _estimator_pubs():
    qc = _ansatz()
    rng = np.random.default_rng(7)
    vals = rng.uniform(-np.pi, np.pi, (3, qc.num_parameters))
    obs_col = [[SparsePauliOp.from_list([("XZI", 1.0), ("ZZZ", -0.3)])], [SparsePauliOp("IIY")]]  # (2, 1)
    fixed = QuantumCircuit(3)
    fixed.h(0)
    fixed.cx(0, 1)
    fixed.ry(0.4, 2)
    return [
        (qc, obs_col, vals),  # (2,1) x (3,) -> (2,3)
        (qc, "ZZZ", rng.uniform(0, 1, (2, 2, qc.num_parameters))),  # () x (2,2) -> (2,2)
        (fixed, ["ZZI", "XXI", SparsePauliOp.from_list([("IIZ", 0.5), ("IIX", 2.0)])]),  # no parameters
        (qc, [["ZII"], ["IZI"]], vals[:1]),  # (2,1) x (1,) -> (2,1)
    ]


def _assert_estimator_equal(ours, aer):
    assert len(ours) == len(aer)
    for o, a in zip(ours, aer, strict=True):
        assert o.data.evs.shape == a.data.evs.shape
        assert o.data.stds.shape == a.data.stds.shape
        np.testing.assert_allclose(o.data.evs, a.data.evs, rtol=0, atol=TOL)
        np.testing.assert_allclose(o.data.stds, a.data.stds, rtol=0, atol=TOL)
        assert o.metadata["target_precision"] == a.metadata["target_precision"]


def test_estimator_equals_aer_on_broadcast_pubs():
    pubs = _estimator_pubs()
    ours = EstimatorV2(mode="local").run(pubs).result()
    _assert_estimator_equal(ours, AerEstimator().run(pubs).result())
    assert [r.data.evs.shape for r in ours] == [(2, 3), (2, 2), (3,), (2, 1)]


@pytest.mark.parametrize("per_task", [None, 1, 2])
def test_estimator_precision_noise_equals_aer_with_seed_however_split(per_task):
    pubs = _estimator_pubs()
    ours = EstimatorV2(mode="local", seed=11, parameter_sets_per_task=per_task).run(pubs, precision=0.05).result()
    aer = AerEstimator(options={"run_options": {"seed_simulator": 11}}).run(pubs, precision=0.05).result()
    _assert_estimator_equal(ours, aer)
    assert ours[0].data.stds[0, 0] == 0.05


def test_estimator_study_noise_and_noise_model_objects_equal_aer():
    from qiskit import transpile

    # transpiled to the noise model's basis: an ry would run noiseless, and hpcq refuses it (test_isa.py)
    pubs = [
        (transpile(c, basis_gates=["cx", "rz", "sx", "x"], optimization_level=0), *rest)
        for c, *rest in _estimator_pubs()[:2]
    ]
    spec = {"kind": "depolarizing", "p": 0.02, "p2": 0.05}
    nm = build_noise_model(NoiseSpec(**spec))
    aer = AerEstimator(options={"backend_options": {"method": "density_matrix", "noise_model": nm}}).run(pubs).result()
    by_spec = EstimatorV2(mode="local", method="density_matrix", noise=spec).run(pubs).result()
    by_object = EstimatorV2(mode="local", options={"method": "density_matrix", "noise_model": nm}).run(pubs).result()
    by_dict = EstimatorV2(mode="local", method="density_matrix", noise_model=nm.to_dict()).run(pubs).result()
    for ours in (by_spec, by_object, by_dict):
        _assert_estimator_equal(ours, aer)
    ideal = AerEstimator().run(pubs).result()
    assert np.max(np.abs(by_spec[0].data.evs - ideal[0].data.evs)) > 1e-3  # the noise acts


def test_fake_backend_noise_equals_aer():
    from qiskit import transpile
    from qiskit_aer.noise import NoiseModel
    from qiskit_ibm_runtime.fake_provider import FakeManilaV2

    fake = FakeManilaV2()
    qc = transpile(_ansatz(2), basis_gates=["cx", "rz", "sx", "x"], optimization_level=0)
    vals = np.linspace(0, 1, 2 * qc.num_parameters).reshape(2, -1)
    pubs = [(qc, ["ZZ", "XX"], vals[:, None, :].repeat(1, axis=1).reshape(2, 1, -1))]
    aer = (
        AerEstimator(
            options={"backend_options": {"method": "density_matrix", "noise_model": NoiseModel.from_backend(fake)}}
        )
        .run(pubs)
        .result()
    )
    ours = EstimatorV2(mode="local", method="density_matrix", backend=fake).run(pubs).result()
    _assert_estimator_equal(ours, aer)
    by_name = (
        EstimatorV2(mode="local", method="density_matrix", noise={"kind": "fake_backend", "backend": "FakeManilaV2"})
        .run(pubs)
        .result()
    )
    _assert_estimator_equal(by_name, aer)


def _sampler_pubs():
    qc = _ansatz()
    meas = qc.copy()
    meas.measure_all()
    two = QuantumCircuit(3)
    a, b = ClassicalRegister(2, "a"), ClassicalRegister(1, "b")
    two.add_register(a)
    two.add_register(b)
    two.h(0)
    two.cx(0, 1)
    two.x(2)
    two.measure([0, 1], a)
    two.measure(2, b)
    vals = np.random.default_rng(3).uniform(0, np.pi, (2, 3, qc.num_parameters))
    return [(meas, vals), (two,), (meas, vals[0, :2], 77)]


@pytest.mark.parametrize("per_task", [None, 1])
def test_sampler_equals_aer_on_broadcast_pubs(per_task):
    pubs = _sampler_pubs()
    ours = SamplerV2(mode="local", seed=5, parameter_sets_per_task=per_task).run(pubs, shots=300).result()
    aer = AerSampler(seed=5).run(pubs, shots=300).result()
    assert len(ours) == len(aer) == 3
    for o, a in zip(ours, aer, strict=True):
        assert o.data.shape == a.data.shape
        assert sorted(o.data.keys()) == sorted(a.data.keys())
        for name in a.data:
            assert np.array_equal(getattr(o.data, name).array, getattr(a.data, name).array)
            assert getattr(o.data, name).num_bits == getattr(a.data, name).num_bits
        assert o.metadata["shots"] == a.metadata["shots"]
    assert ours[0].data.meas.shape == (2, 3) and ours[2].metadata["shots"] == 77


def test_local_job_semantics():
    est = EstimatorV2(mode="local")
    job = est.run(_estimator_pubs()[:1])
    assert isinstance(job, BasePrimitiveJob) and not isinstance(job, PrimitiveJob)
    res = job.result()
    assert job.done() and job.in_final_state() and not job.cancelled() and not job.running()
    assert job.job_id().startswith("local-")
    assert res.metadata["version"] == 2 and res.metadata["hpcq"]["ranks"] == 1


def test_bad_input_is_refused_before_running():
    qc = _ansatz()
    vals = np.zeros((3, qc.num_parameters))
    est = EstimatorV2(mode="local")
    with pytest.raises(ValueError, match=r"pubs\[0\] is not a valid estimator PUB"):
        est.run(["not a circuit"])
    with pytest.raises(ValueError, match=r"pubs\[1\] is not a valid estimator PUB"):
        est.run([(qc, "ZZZ", vals), (qc, "ZZ", vals)])  # observable on 2 qubits, circuit has 3
    with pytest.raises(ValueError, match="broadcast|shape"):
        est.run([(qc, [["ZZZ"], ["XXX"]], np.zeros((3, 2, qc.num_parameters)))])  # (2,1) vs (3,2)
    with pytest.raises(ValueError, match="parameter"):
        est.run([(qc, "ZZZ", np.zeros((3, qc.num_parameters + 1)))])
    with pytest.raises(ValueError, match="precision"):
        est.run([(qc, "ZZZ", vals)], precision=-1)
    with pytest.raises(OptionsError, match=r"unknown option 'shots_per_circuit'.*known options: .*default_precision"):
        EstimatorV2(mode="local", shots_per_circuit=10)
    with pytest.raises(OptionsError, match=r"noise\.p"):
        EstimatorV2(mode="local", noise={"kind": "depolarizing", "p": 3})
    with pytest.raises(OptionsError, match="noise_model"):
        EstimatorV2(mode="local", noise_model="not a model")
    with pytest.raises(OptionsError, match="mode="):
        EstimatorV2(mode="cluster")
    with pytest.raises(ValueError, match="no classical registers"):
        SamplerV2(mode="local").run([(qc, vals)])


def test_params_model_refuses_bad_payloads_without_qiskit():
    """What the executor checks on the login node (hpcq.primitives.params imports no Qiskit)."""
    from hpcq import functions

    def check(params):
        return functions.validate_kwargs("primitive_run", params)

    from qiskit.primitives.containers.estimator_pub import EstimatorPub

    qc = _ansatz()
    good = EstimatorV2(mode="local")._params([EstimatorPub.coerce((qc, "ZZZ", np.zeros((2, qc.num_parameters))), 0.0)])
    assert check(good)["primitive"] == "estimator"
    pub = good["pubs"][0]
    with pytest.raises(ValueError, match=r"kwargs\.pubs\.0\.circuit"):
        check({**good, "pubs": [{**pub, "circuit": "aGVsbG8="}]})
    with pytest.raises(ValueError, match="Pauli label"):
        check({**good, "pubs": [{**pub, "observables": [{"ZZ": 1.0}]}]})
    with pytest.raises(ValueError, match="do not broadcast"):
        check({**good, "pubs": [{**pub, "observables": [{"ZZZ": 1.0}] * 3, "observables_shape": [3]}]})
    with pytest.raises(ValueError, match="parameter_values has"):
        check({**good, "pubs": [{**pub, "parameter_values": [0.0]}]})
    with pytest.raises(ValueError, match=r"kwargs\.bogus"):
        check({**good, "bogus": 1})


def test_h5_on_request_is_a_valid_hpcq_result_file(tmp_path, monkeypatch):
    import h5py

    from hpcq.results.h5format import validate

    monkeypatch.chdir(tmp_path)
    pubs = _estimator_pubs()[:1]
    res = EstimatorV2(mode="local", h5=True, label="h5test").run(pubs).result()
    path = res.metadata["hpcq_h5"]
    assert path.startswith(str(tmp_path)) and validate(path) == []
    with h5py.File(path) as f:
        assert f["primitive"].attrs["kind"] == "estimator"
        np.testing.assert_array_equal(f["primitive/pubs/0/evs"][()], res[0].data.evs)
        assert f["provenance"].attrs["qiskit_version"]
