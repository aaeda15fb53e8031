"""hpcq's EstimatorV2 / SamplerV2 with a QPU target (options target/profile/access; docs/primitives.md
"On a QPU"), local mode, in the QPU venv (tests/qpu/conftest.py):

- on the twin (access twin, the shipped karolina-vlq profile's 24-qubit star): a TFIM-3 energy whose
  raw value lies within 4 sigma of the twin's exact noisy value (density matrix, readout errors
  applied exactly) and whose mitigated value lies within 4 sigma of the exact value without readout
  errors; GHZ-3 counts in {000, 111} above 85 %; the HDF5 file holds the transpiled circuits (QPY);
- through QRMI (access qrmi): the unmodified QRMI client over HTTP to the loopback IQM stand-in, with
  the environment QRMI's SPANK plugin would export: only native gates on coupled loci reach it, and
  the result's metadata and the HDF5 file carry its calibration-set id, the shots and the QPU/queue
  times."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import h5py
import numpy as np
import pytest
from qiskit import QuantumCircuit, qpy
from qiskit.quantum_info import SparsePauliOp

from hpcq.primitives import EstimatorV2, SamplerV2
from hpcq.qpu.mitigation import measured_groups
from hpcq.qpu.twin import make_twin
from hpcq.results import h5format as F
from hpcq.testing.iqm_standin import IqmStandin
from tests.qpu.test_qpu_route import NATIVE, _exact

TWIN = {"target": "vlq", "profile": "karolina-vlq", "access": "twin", "seed": 5}
TFIM = SparsePauliOp.from_sparse_list(
    [("ZZ", [0, 1], -1.0), ("ZZ", [1, 2], -1.0), ("X", [0], -0.5), ("X", [1], -0.5), ("X", [2], -0.5)], 3
)


def _ansatz() -> QuantumCircuit:
    qc = QuantumCircuit(3)
    qc.ry(0.9, 0)
    qc.ry(-0.4, 2)
    qc.cx(0, 1)
    qc.cx(1, 2)
    qc.rx(0.3, 1)
    qc.rz(0.7, 2)  # a final RZ: the transpile check keeps it
    return qc


def _ghz() -> QuantumCircuit:
    qc = QuantumCircuit(3)
    qc.h(0)
    qc.cx(0, 1)
    qc.cx(1, 2)
    qc.measure_all()
    return qc


@pytest.fixture(scope="module")
def twin():
    return make_twin({"kind": "iqm_star", "qubits": 24})[0]


def test_estimator_on_the_twin_within_4_sigma_of_its_exact_noisy_value(tmp_path, monkeypatch, twin):
    monkeypatch.chdir(tmp_path)
    est = EstimatorV2(options={**TWIN, "shots": 4000, "calibration_shots": 4000, "h5": True})
    result = est.run([(_ansatz(), TFIM)]).result()
    pub = result[0]
    meta = result.metadata["qpu"]
    assert meta["access"] == "twin" and "NOT calibrated" in meta["label"] and meta["mitigation"] == "readout"
    assert pub.metadata["shots"] == 4000 and pub.data.evs.shape == ()
    path = Path(result.metadata["hpcq_h5"])
    assert F.validate(path) == []
    with h5py.File(path) as f:
        g = f["primitive/qpu"]
        isas = qpy.load(io.BytesIO(g["pubs/0/isa_qpy"][()].tobytes()))
        roles = json.loads(g["pubs/0/circuits_json"][()])
        assert g["pubs/0/mitigation_matrices"].shape[1:] == (2, 2)
        assert json.loads(g.attrs["twin_json"])["qubits"] == 24
    groups = measured_groups(SparsePauliOp(sorted(TFIM.paulis.to_labels()), np.ones(len(TFIM))))
    coeff = dict(zip(TFIM.paulis.to_labels(), np.real(TFIM.coeffs), strict=True))
    exact_ro = exact_clean = 0.0
    for r, isa in zip(roles, isas, strict=False):
        if r["role"] == "group":
            _, labels, _ = groups[r["group"]]
            lc = (labels, np.asarray([coeff[x] for x in labels]))
            exact_ro += _exact(twin, isa, r["measured_on"], lc, 3, True)
            exact_clean += _exact(twin, isa, r["measured_on"], lc, 3, False)
    raw, raw_std = pub.metadata["evs_raw"][0], pub.metadata["stds_raw"][0]
    assert abs(raw - exact_ro) <= 4 * raw_std, (raw, raw_std, exact_ro)
    assert abs(float(pub.data.evs) - exact_clean) <= 4 * float(pub.data.stds), (pub.data.evs, exact_clean)
    assert abs(exact_ro - exact_clean) > 4 * raw_std  # the readout errors are visible at these shots


def test_sampler_ghz3_on_the_twin_lands_in_000_and_111():
    result = SamplerV2(options={**TWIN, "default_shots": 2000}).run([_ghz()]).result()
    counts = result[0].data.meas.get_counts()
    assert sum(counts.values()) == 2000 and result[0].data.meas.num_bits == 3
    assert (counts.get("000", 0) + counts.get("111", 0)) / 2000 > 0.85, counts
    assert result.metadata["qpu"]["shots_total"] == 2 * 2000  # the bit-order circuit + the PUB


def test_qrmi_route_through_the_stand_in(tmp_path, monkeypatch, twin):
    monkeypatch.chdir(tmp_path)
    with IqmStandin(twin, "vlq") as standin:
        for k, v in standin.env("vlq").items():
            monkeypatch.setenv(k, v)
        opts = {"target": "vlq", "profile": "karolina-vlq", "access": "qrmi", "h5": True}
        est = EstimatorV2(options={**opts, "shots": 2000, "calibration_shots": 2000})
        er = est.run([(_ansatz(), [TFIM, SparsePauliOp("ZZZ")])]).result()
        sr = SamplerV2(options={**opts, "default_shots": 1000}).run([_ghz()]).result()
    for r in (er, sr):
        meta = r.metadata["qpu"]
        assert meta["access"] == "qrmi" and meta["backend"] == "vlq (QRMI iqm-server)"
        assert meta["calibration_set_id"] == standin.calset_id
        assert math.isfinite(meta["qpu_time_s"]) and math.isfinite(meta["queue_time_s"])
        with h5py.File(r.metadata["hpcq_h5"]) as f:
            assert f["primitive/qpu"].attrs["calibration_set_id"] == standin.calset_id
            assert len(qpy.load(io.BytesIO(f["primitive/qpu/pubs/0/isa_qpy"][()].tobytes()))) >= 2
    assert er[0].data.evs.shape == (2,)
    assert er.metadata["qpu"]["shots_total"] == 2000 * 3 + 2 * 2000  # bit order, Z and X groups, calibration
    c = sr[0].data.meas.get_counts()
    assert (c.get("000", 0) + c.get("111", 0)) / 1000 > 0.85, c
    loci = {g: {tuple(locus) for locus in standin.dqa.gates[g].loci} for g in NATIVE}
    assert standin.circuits
    for circuit in standin.circuits:
        for inst in circuit["instructions"]:
            assert inst["name"] in NATIVE and tuple(inst["locus"]) in loci[inst["name"]], inst


def test_without_the_plugins_environment_the_qrmi_route_names_the_fix(monkeypatch):
    for k in ("QRMI_JOB_QPU_RESOURCES", "SLURM_JOB_QPU_RESOURCES"):
        monkeypatch.delenv(k, raising=False)
    sam = SamplerV2(options={"target": "vlq", "profile": "karolina-vlq"})
    with pytest.raises(Exception, match=r"QRMI_JOB_QPU_RESOURCES is not set.*--qpu=vlq"):
        sam.run([_ghz()]).result()
