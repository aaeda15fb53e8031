"""The primitives' QPU options (docs/primitives.md "On a QPU"): each refusal names the option and the
fix, before anything is sent; a call with a target plans at the executor exactly as a study's QPU
step (request lines for the device, none for its twin, the profile's python). Runs in .venv: no QPU
client is needed (the QPU runs themselves: tests/qpu/test_primitives_qpu.py, in .venv-qpu)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from qiskit import QuantumCircuit
from qiskit.primitives.containers.estimator_pub import EstimatorPub
from qiskit.primitives.containers.sampler_pub import SamplerPub
from qiskit.quantum_info import SparsePauliOp

from hpcq.executor.backends.base import JOB_PYTHON
from hpcq.executor.profiles.schema import profile_files
from hpcq.executor.resources import PlanError, plan_process
from hpcq.primitives import EstimatorV2, SamplerV2
from hpcq.primitives.options import OptionsError
from hpcq.primitives.params import PrimitiveRunParams

QPU = {"target": "vlq", "profile": "karolina-vlq"}


def _ghz(measure: bool = False) -> QuantumCircuit:
    qc = QuantumCircuit(3)
    qc.h(0)
    qc.cx(0, 1)
    qc.cx(1, 2)
    if measure:
        qc.measure_all()
    return qc


def _est_pub(precision: float = 0.0) -> EstimatorPub:
    return EstimatorPub.coerce((_ghz(), SparsePauliOp(["ZZI", "IZZ"])), precision)


def _profile(tmp: Path, **qpu) -> str:
    """The shipped karolina-vlq with an account (and changes to its QPU entry)."""
    prof = yaml.safe_load(profile_files()["karolina-vlq"].read_text())
    prof["account"] = "PROJ-1"
    prof["qpus"]["vlq"].update(qpu)
    (tmp / "vlq.yaml").write_text(yaml.safe_dump(prof))
    return str(tmp / "vlq.yaml")


def test_unknown_target_in_the_profile_is_refused_naming_its_qpus():
    est = EstimatorV2(options={"target": "nope", "profile": "karolina-vlq"})
    with pytest.raises(OptionsError, match=r"options.target: profile karolina-vlq has no QPU 'nope' \(its QPUs: vlq\)"):
        est.run([(_ghz(), SparsePauliOp("ZZI"))])
    with pytest.raises(OptionsError, match=r"options.target:.*has no QPU 'vlq' \(its QPUs: none\)"):
        EstimatorV2(options={"target": "vlq", "profile": "karolina"}).run([(_ghz(), SparsePauliOp("ZZI"))])
    with pytest.raises(OptionsError, match="options.profile:"):
        EstimatorV2(options={"target": "vlq", "profile": "no-such-site"}).run([(_ghz(), SparsePauliOp("ZZI"))])


def test_shots_over_the_qpus_max_shots_are_refused():
    with pytest.raises(OptionsError, match=r"options.shots: 200000 exceeds QPU 'vlq''s max_shots 100000"):
        EstimatorV2(options={**QPU, "shots": 200_000}).run([(_ghz(), SparsePauliOp("ZZI"))])
    with pytest.raises(OptionsError, match=r"options.shots: 1000000 exceeds"):  # precision 0.001 -> 1e6 shots
        EstimatorV2(options=QPU).run([(_ghz(), SparsePauliOp("ZZI"))], precision=0.001)
    with pytest.raises(OptionsError, match=r"options.shots: 150000 exceeds"):
        SamplerV2(options=QPU).run([_ghz(True)], shots=150_000)
    with pytest.raises(OptionsError, match=r"options.calibration_shots: 100001 exceeds"):
        EstimatorV2(options={**QPU, "calibration_shots": 100_001}).run([(_ghz(), SparsePauliOp("ZZI"))])


def test_conflicting_or_incomplete_qpu_options_name_the_fix():
    with pytest.raises(OptionsError, match=r"options.noise: a QPU target .* has its own noise; drop noise"):
        EstimatorV2(options={**QPU, "noise": {"kind": "depolarizing", "p": 0.01}}).run([_est_pub()])
    with pytest.raises(OptionsError, match=r"options.profile: a QPU target needs the site profile"):
        EstimatorV2(options={"target": "vlq"}).run([_est_pub()])
    with pytest.raises(OptionsError, match=r"options.access='twin' needs options.target"):
        EstimatorV2(options={"access": "twin"}).run([_est_pub()])
    with pytest.raises(OptionsError, match=r"options.access"):
        EstimatorV2(options={**QPU, "access": "cloud"})
    with pytest.raises(OptionsError, match=r"options.target"):
        EstimatorV2(options={"target": "vlq; rm -rf /", "profile": "karolina-vlq"})
    with pytest.raises(OptionsError, match=r"options.shots"):
        EstimatorV2(options={**QPU, "shots": 0})


def test_access_qrmi_insists_on_the_profiles_route(tmp_path):
    est = EstimatorV2(options={"target": "vlq", "profile": _profile(tmp_path, access="twin"), "access": "qrmi"})
    with pytest.raises(OptionsError, match=r"options.access='qrmi': profile .* reaches QPU 'vlq' by 'twin'"):
        est.run([_est_pub()])


def test_a_session_call_with_a_target_is_refused():
    est = EstimatorV2(mode="remote", options=QPU)
    params = est._params([_est_pub()])
    with pytest.raises(ValueError, match="a QPU target does not run inside a Session"):
        PrimitiveRunParams.model_validate({**params, "session": "abc"})


def test_the_call_carries_the_qpu_kwargs_and_shots():
    est = EstimatorV2(mode="remote", options={**QPU, "shots": 3000, "mitigation": "none"})
    params = PrimitiveRunParams.model_validate(est._params([_est_pub(), _est_pub(0.02)]))
    assert params.qpu_target() == "vlq" and params.qpu_access() == "profile"
    assert params.qpu is not None and params.qpu.shots == 3000 and params.qpu.mitigation == "none"
    # remote mode without a profile: the executor's profile decides (and refuses an unknown QPU)
    no_profile = EstimatorV2(mode="remote", options={"target": "vlq"})
    params = PrimitiveRunParams.model_validate(no_profile._params([_est_pub()]))
    assert params.qpu is not None and params.qpu.shots == 4000
    sam = SamplerV2(mode="remote", options={**QPU, "access": "twin"})
    params = PrimitiveRunParams.model_validate(sam._params([SamplerPub.coerce(_ghz(True), 700)]))
    assert params.qpu_access() == "twin" and params.qpu is not None and params.qpu.shots == 700
    plain = PrimitiveRunParams.model_validate(EstimatorV2(mode="remote")._params([_est_pub()]))
    assert plain.qpu_target() is None and plain.qpu_access() == "profile"


def test_the_executor_plans_a_primitive_call_as_a_qpu_step(tmp_path):
    path = _profile(tmp_path, python="/opt/venv-qpu/bin/python")
    on_qpu = PrimitiveRunParams.model_validate(EstimatorV2(mode="remote", options=QPU)._params([_est_pub()]))
    plan = plan_process(path, {"walltime": 600}, on_qpu, True, 1200)
    assert plan.params["slurm_additional_parameters"] == {"qpu": "vlq"}
    assert plan.params[JOB_PYTHON] == "/opt/venv-qpu/bin/python"
    assert plan.detail["qpu"]["name"] == "vlq" and plan.detail["qpu"]["max_shots"] == 100000
    twin_opts = {**QPU, "access": "twin"}
    on_twin = PrimitiveRunParams.model_validate(EstimatorV2(mode="remote", options=twin_opts)._params([_est_pub()]))
    plan = plan_process(path, {"walltime": 600}, on_twin, True, 1200)
    assert "qpu" not in plan.params.get("slurm_additional_parameters", {})
    assert plan.params[JOB_PYTHON] == "/opt/venv-qpu/bin/python" and plan.detail["qpu"]["twin"]["qubits"] == 24
    with pytest.raises(PlanError, match="QPU step runs as one task"):
        plan_process(path, {"processespernode": 2}, on_qpu, True, 1200)
    with pytest.raises(PlanError, match=r"conditions.qpu: profile karolina has no QPU 'vlq'"):
        plan_process("karolina", {"walltime": 600}, on_qpu, True, 1200)
    plain = PrimitiveRunParams.model_validate(EstimatorV2(mode="remote")._params([_est_pub()]))
    assert "qpu" not in plan_process(path, {"walltime": 600}, plain, True, 1200).detail
