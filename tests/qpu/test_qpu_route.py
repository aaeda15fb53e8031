"""The vendor route end to end, offline (issue 23, must show; docs/qpu.md): hpcq's real job entry
point (hpcq.job.runner.run_tasks) runs a qpu_run task planned by the executor for the shipped
karolina-vlq profile, with the environment QRMI's SPANK plugin would export; the UNMODIFIED QRMI
client (qrmi 0.26.4, iqm-client 35) talks HTTP to a loopback stand-in for IQM's REST API
(hpcq.testing.iqm_standin) that executes on the VLQ-shaped 24-qubit star twin with Aer and the
twin's noise model. Runs in .venv-qpu (tests/qpu/conftest.py).

Checked: the stand-in saw the circuit POSTs; only native gates (prx, cz, measure, move) on coupled
loci reached it; GHZ-3 lands in {000, 111} above 85 %; the raw energy is within 4 sigma of the
twin's exact noisy value (density matrix, readout errors applied exactly); the mitigated energy is
within 4 sigma of the exact value without readout errors and closer to it than the raw one; the
HDF5 file is valid and holds the calibration-set id, the transpiled circuits (QPY), layouts, raw
counts, the calibration and the QPU/queue times."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

from hpcq.executor.resources import plan_process
from hpcq.job.runner import run_tasks
from hpcq.job.task import Outcome, Task
from hpcq.qpu.mitigation import measured_groups, term_values
from hpcq.qpu.params import QpuRunParams
from hpcq.qpu.twin import make_twin
from hpcq.results import h5format as F
from hpcq.testing.iqm_standin import IqmStandin

ROOT = Path(__file__).resolve().parents[2]
PROFILE = ROOT / "slurm_templates" / "profiles" / "karolina-vlq.yaml"
NATIVE = {"prx", "cz", "measure", "move"}
KW = {"target": "vlq", "qubits": 4, "reps": 1, "parameter_sets": 2, "shots": 4000, "calibration_shots": 4000}


@pytest.fixture(scope="module")
def route(tmp_path_factory):
    """One qpu_run through the whole route; (stand-in, twin, outcome, HDF5 path)."""
    twin = make_twin({"kind": "iqm_star", "qubits": 24})[0]
    params = QpuRunParams(**KW)
    work = tmp_path_factory.mktemp("qpu")
    profile = yaml.safe_load(PROFILE.read_text())
    profile["account"] = "PROJ-1"
    (work / "karolina-vlq.yaml").write_text(yaml.safe_dump(profile))
    plan = plan_process(str(work / "karolina-vlq.yaml"), {"walltime": 600}, params, False, 1200)
    mp = pytest.MonkeyPatch()
    with IqmStandin(twin, "vlq") as standin:
        for k, v in standin.env(plan.detail["qpu"]["resource"]).items():
            mp.setenv(k, v)
        task = Task("qpu-proc-1", "qpu_run", params.model_dump(), str(work), str(work / "outcome.json"))
        task.extra = {"qpu": plan.detail["qpu"]}
        run_tasks([task])
    mp.undo()
    out = Outcome.read(work / "outcome.json")
    assert out.ok, out.error
    return standin, twin, out, Path(out.files[0])


def test_circuits_reach_the_stand_in_over_http(route):
    standin, _, _, _ = route
    posts = [p for m, p in standin.requests if m == "POST"]
    assert posts and all(p.startswith("/api/v1/jobs/vlq/circuit") for p in posts)
    assert ("GET", "/api/v1/calibration-sets/vlq/default/dynamic-quantum-architecture") in standin.requests
    assert any(p.endswith("/artifacts/measurements") for _, p in standin.requests)


def test_only_native_gates_on_coupled_qubits_reach_the_device(route):
    standin, _, _, _ = route
    loci = {g: {tuple(locus) for locus in standin.dqa.gates[g].loci} for g in NATIVE}
    assert standin.circuits
    for c in standin.circuits:
        for inst in c["instructions"]:
            assert inst["name"] in NATIVE, (c["name"], inst)
            assert tuple(inst["locus"]) in loci[inst["name"]], (c["name"], inst)
    names = {i["name"] for c in standin.circuits for i in c["instructions"]}
    assert {"move", "cz"} <= names  # the star routes every two-qubit gate through the resonator


def test_ghz3_lands_in_000_and_111(route):
    _, _, out, path = route
    assert out.summary["ghz_fraction"] > 0.85
    with h5py.File(path) as f:
        roles = json.loads(f[F.QPU_CIRCUITS_JSON][()])
        counts = json.loads(f[F.QPU_COUNTS_JSON][()])
    ghz = counts[[r["role"] for r in roles].index("ghz")]
    assert (ghz.get("000", 0) + ghz.get("111", 0)) / sum(ghz.values()) == pytest.approx(out.summary["ghz_fraction"])


def _exact(twin, isa, measured_on, labels_coeffs, n, readout: bool) -> float:
    """The group's exact value on the twin: density matrix with the twin's gate noise, readout
    errors (the twin's assignment matrices) applied exactly or not at all."""
    from iqm.qiskit_iqm.iqm_transpilation import IQMReplaceGateWithUnitaryPass
    from iqm.qiskit_iqm.move_gate import MOVE_GATE_UNITARY
    from qiskit_aer import AerSimulator

    body = isa.remove_final_measurements(inplace=False)
    body = IQMReplaceGateWithUnitaryPass("move", MOVE_GATE_UNITARY)(body)
    body.save_probabilities(qubits=measured_on)
    sim = AerSimulator(method="density_matrix", noise_model=twin.noise_model)
    p = np.asarray(sim.run(body).result().data()["probabilities"])
    if readout:
        errs = twin.error_profile.readout_errors
        t = p.reshape((2,) * n)
        for i, q in enumerate(measured_on):
            e = errs[twin._idx_to_qb[q]]
            a = np.array([[1 - e["0"], e["1"]], [e["0"], 1 - e["1"]]])
            t = np.moveaxis(np.tensordot(a, t, axes=([1], [n - 1 - i])), 0, n - 1 - i)
        p = t.reshape(-1)
    labels, coeffs = labels_coeffs
    return float(p @ term_values(labels, coeffs, n))


def test_energy_within_4_sigma_of_the_twins_exact_noisy_value_and_mitigation_helps(route):
    from qiskit import qpy

    from hpcq.qpu.run import _problem

    _, twin, out, path = route
    _, observable, _ = _problem(QpuRunParams(**KW))
    groups = measured_groups(observable)
    with h5py.File(path) as f:
        roles = json.loads(f[F.QPU_CIRCUITS_JSON][()])
        isas = qpy.load(io.BytesIO(f[F.QPU_ISA_QPY][()].tobytes()))
    closer = gate_noise = 0.0
    for k, e in enumerate(out.summary["energies"]):
        exact_ro = exact_clean = 0.0
        for r, isa in zip(roles, isas, strict=False):
            if r["role"] == "group" and r["set"] == k:
                _, labels, coeffs = groups[r["group"]]
                exact_ro += _exact(twin, isa, r["measured_on"], (labels, coeffs), KW["qubits"], True)
                exact_clean += _exact(twin, isa, r["measured_on"], (labels, coeffs), KW["qubits"], False)
        assert abs(e["energy_raw"] - exact_ro) <= 4 * e["energy_raw_std"], (k, e, exact_ro)
        assert abs(e["energy"] - exact_clean) <= 4 * e["energy_std"], (k, e, exact_clean)
        gate_noise = max(gate_noise, abs(exact_clean - e["ideal_energy"]))
        closer += abs(e["energy_raw"] - exact_clean) - abs(e["energy"] - exact_clean)
    assert gate_noise > 0.02  # the twin's gate noise is visible: the exact noisy value is not the ideal one
    assert closer > 0, "readout mitigation did not move the energies toward the exact value"


def test_hdf5_holds_what_a_hardware_run_needs(route):
    from qiskit import qpy

    standin, _, out, path = route
    assert F.validate(path) == []
    with h5py.File(path) as f:
        g = f[F.QPU]
        attrs = {k: F._py(v) for k, v in g.attrs.items()}
        isas = qpy.load(io.BytesIO(f[F.QPU_ISA_QPY][()].tobytes()))
        roles = json.loads(f[F.QPU_CIRCUITS_JSON][()])
        counts = json.loads(f[F.QPU_COUNTS_JSON][()])
        assert f[F.QPU_MITIGATION_MATRICES].shape == (len(f[F.QPU_MITIGATION_QUBITS]), 2, 2)
        checks = json.loads(f[F.QPU_CHECKS_JSON][()])
        task = f[F.TASKS][sorted(f[F.TASKS])[0]]
        assert F._py(task.attrs["step"]) == "qpu" and F._py(task.attrs["calibration_set_id"]) == standin.calset_id
    assert attrs["calibration_set_id"] == standin.calset_id == out.summary["calibration_set_id"]
    assert attrs["backend"] == "vlq (QRMI iqm-server)" and attrs["access"] == "qrmi"
    assert attrs["shots"] == KW["shots"] and attrs["mitigation"] == "readout"
    assert attrs["mitigation_shots"] == 2 * KW["calibration_shots"]
    assert math.isfinite(attrs["qpu_time_s"]) and math.isfinite(attrs["queue_time_s"])
    assert len(isas) == len(roles) == len(counts) == len(standin.circuits)
    assert all(r["measured_on"] for r in roles)
    assert all(c.get("native") for c, r in zip(checks, roles, strict=True) if r["role"] != "calibration")
    assert all(
        c["checked"] and c["fidelity_min"] > 1 - 1e-6
        for c, r in zip(checks, roles, strict=True)
        if r["role"] != "calibration"
    )


def test_bit_order_circuit_read_in_qiskit_order(route):
    _, _, _, path = route
    with h5py.File(path) as f:
        roles = json.loads(f[F.QPU_CIRCUITS_JSON][()])
        counts = json.loads(f[F.QPU_COUNTS_JSON][()])
    c = counts[[r["role"] for r in roles].index("bit_order")]
    assert max(c, key=c.get) == "001"


def test_a_reversed_bit_order_fails_the_step():
    from hpcq.qpu import QpuError
    from hpcq.qpu.run import _check_bit_order

    with pytest.raises(QpuError, match="bit-order check failed.*'100'"):
        _check_bit_order([{"role": "bit_order"}], [{"100": 950, "000": 50}])


def _run(tmp_path, qpu: dict, **kw) -> Outcome:
    task = Task("p", "qpu_run", QpuRunParams(**{**KW, **kw}).model_dump(), str(tmp_path), str(tmp_path / "o.json"))
    task.extra = {"qpu": qpu}
    run_tasks([task])
    return Outcome.read(tmp_path / "o.json")


VLQ = {"name": "vlq", "vendor": "iqm", "access": "qrmi", "resource": "vlq", "max_shots": 100000,
       "twin": {"kind": "iqm_star", "qubits": 6}}  # fmt: skip


def test_the_same_step_on_the_twin_needs_no_qpu_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("QRMI_JOB_QPU_RESOURCES", raising=False)
    out = _run(tmp_path, VLQ, access="twin", shots=1000, calibration_shots=1000, parameter_sets=1)
    assert out.ok, out.error
    assert out.summary["access"] == "twin" and out.summary["ghz_fraction"] > 0.85
    assert F.validate(out.files[0]) == []
    assert "twin" in F.read_summary(out.files[0])["tasks"][0]["attrs"]["noise_model"]


def test_a_qpu_step_without_the_plugins_environment_names_the_fix(tmp_path, monkeypatch):
    for k in ("QRMI_JOB_QPU_RESOURCES", "SLURM_JOB_QPU_RESOURCES"):
        monkeypatch.delenv(k, raising=False)
    out = _run(tmp_path, VLQ)
    assert not out.ok and "QRMI_JOB_QPU_RESOURCES is not set" in out.error and "--qpu=vlq" in out.error
    too_many = _run(tmp_path, {**VLQ, "max_shots": 1000})
    assert not too_many.ok and "max_shots 1000" in too_many.error
