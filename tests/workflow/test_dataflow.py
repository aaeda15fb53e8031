"""The water DAG's dataflow, step by step in-process: each step sees only its parents' outputs
(as ColonyOS's ``in`` delivers them: [result_ref, summary_json] per parent)."""

import json

import h5py
import numpy as np
import pytest

from hpcq.executor.outputs import success_output
from hpcq.functions import JobContext, get, validate_kwargs
from hpcq.sim import problems

WATER = {"kind": "molecule", "geometry": "h2o", "active_electrons": 4, "active_orbitals": 4, "mapping": "jordan_wigner"}


def run_step(funcname, params, inputs, workdir):
    kwargs = validate_kwargs(funcname, params)
    workdir.mkdir(parents=True)  # the job runner makes the per-process work directory
    res = get(funcname).load()(kwargs, JobContext(process_id=funcname, workdir=str(workdir), inputs=inputs))
    return res, success_output(res.files, str(workdir), res.summary)


def test_water_dataflow_integrals_to_noise(tmp_path, monkeypatch):
    calls = []
    real = problems.integrals
    monkeypatch.setattr(problems, "integrals", lambda p: calls.append(p) or real(p))
    res, out_int = run_step("study_integrals", {"problem": WATER}, [], tmp_path / "i")
    assert res.files[0].endswith(".fcidump") and res.summary["casci_energy"] == pytest.approx(-74.97045438, abs=1e-7)
    res, out_ham = run_step("study_hamiltonian", {"problem": WATER}, out_int, tmp_path / "h")
    assert res.summary["n_qubits"] == 8 and res.summary["n_terms"] == 105
    assert res.summary["exact_energy"] == pytest.approx(-74.97045438545, abs=1e-8)
    assert len(calls) == 1  # the hamiltonian step read the FCIDUMP; PySCF ran once, in the integrals step
    ans = {"kind": "uccsd", "reps": 1}
    res, out_ans = run_step("study_ansatz", {"ansatz": ans, "n_qubits": 8, "problem": WATER}, out_ham, tmp_path / "a")
    assert res.summary["n_params"] == 26 and res.summary["hamiltonian_file"]
    sweep = {
        "study": "water-t",
        "problems": [WATER],
        "ansatze": [ans],
        "optimizers": [{"kind": "spsa", "maxiter": 4, "learning_rate": 0.05}],
        "noise": [{"kind": "none"}],
        "seeds": [3],
        "method": "automatic",
    }
    # the VQE must use the parent's operator: poison the local builder to prove it
    monkeypatch.setattr(problems, "_chem_hamiltonian", lambda *_: (_ for _ in ()).throw(AssertionError("rebuilt")))
    res, out_vqe = run_step("study_vqe", sweep, out_ans, tmp_path / "v")
    vqe_file = res.files[0]
    with h5py.File(vqe_file) as f:
        (vqe_id,) = list(f["tasks"])
        x_opt = f["tasks"][vqe_id]["final_parameters"][()]
        e_vqe = float(f["tasks"][vqe_id]["metrics"].attrs["energy"])
    noisy = dict(sweep, noise=[{"kind": "depolarizing", "p": 0.001}], reoptimize=True)
    res, _ = run_step("study_noise", noisy, out_vqe, tmp_path / "n")
    with h5py.File(res.files[0]) as f:
        prov = f["provenance"].attrs
        assert np.array_equal(json.loads(prov["parent_parameters"]), x_opt)
        assert prov["parent_task_id"] == vqe_id and prov["parent_file"] == vqe_file
        assert prov["method"] == "density_matrix" and "0.1 x 4^8" in prov["method_reason"]
        ids = sorted(f["tasks"])
        assert len(ids) == 2 and ids[1].endswith("-reopt")
        g = f["tasks"][ids[0]]
        assert g.attrs["parent_task_id"] == vqe_id and g.attrs["method"] == "density_matrix"
        assert np.array_equal(g["final_parameters"][()], x_opt)  # evaluated at the parent's optimum
        e_noisy = float(g["metrics"].attrs["energy"])
        assert (
            np.array_equal(f["tasks"][ids[1]]["trace"]["parameters"][()][0], x_opt)
            or f["tasks"][ids[1]]["metrics"].attrs["evaluations"] > 1
        )
    assert e_noisy > e_vqe  # depolarizing noise raises the energy at the noiseless optimum
    assert res.summary["energy_at_parent_parameters"] == pytest.approx(e_noisy)


def test_missing_handover_is_named(tmp_path):
    with pytest.raises(RuntimeError, match="integrals_file"):
        run_step("study_hamiltonian", {"problem": WATER}, [], tmp_path / "x")
