"""Synthetic result files come from the format's writer: they validate like real files."""

import subprocess
import sys

import h5py
import pytest

from hpcq.results import h5format as F
from hpcq.testing.synthetic import circuit_qpy, make_study


def test_synthetic_files_validate(tmp_path):
    paths = make_study(tmp_path / "noise", n_workflows=3)
    paths += make_study(
        tmp_path / "scan", n_workflows=3, problems=["h2"], study="scan", scan=("bond_length", [0.5, 0.735, 1.2])
    )
    assert len(paths) == 12
    for p in paths:
        assert F.validate(p) == [], p
        with h5py.File(p, "r") as f:
            assert F.INDEX in f  # the fast index: the catalog reads one dataset per file
            for g in f[F.TASKS].values():
                assert all(d in g for d in F.TASK_DATASETS)
    s = F.read_summary(paths[-1])
    assert {t["attrs"]["step"] for t in s["tasks"]} == {"noise"}
    assert all(t["attrs"]["parent_task_id"] for t in s["tasks"])


def test_synthetic_files_fail_validation_when_damaged(tmp_path):
    path = make_study(tmp_path, n_workflows=1)[0]
    with h5py.File(path, "r+") as f:
        g = next(iter(f[F.TASKS].values()))
        g[F.METRICS].attrs["energy"] = 0.0
    problems = F.validate(path)
    assert any("content_sha256 mismatch" in p for p in problems), problems
    assert any(F.INDEX in p for p in problems), problems


def test_synthetic_circuit_matches_parameters_and_is_reproducible():
    from io import BytesIO

    from qiskit import qpy

    qc = qpy.load(BytesIO(circuit_qpy(4, 12)))[0]
    assert qc.num_qubits == 4 and qc.num_parameters == 12
    code = "from hpcq.testing.synthetic import circuit_qpy; import sys; sys.stdout.write(circuit_qpy(4, 12).hex())"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert bytes.fromhex(other) == circuit_qpy(4, 12)  # another process writes the same bytes


def test_attrs_payload_lacks_only_datasets(tmp_path):
    path = make_study(tmp_path, n_workflows=1, payload="attrs")[0]
    problems = F.validate(path)
    assert problems and all(p.endswith(" missing") and any(d in p for d in F.TASK_DATASETS) for p in problems), problems


def test_writer_refuses_a_task_without_the_format_attributes(tmp_path):
    task = F.TaskData({"task_id": "t0", "step": "vqe"}, {"energy": 1.0})
    with pytest.raises(F.FormatError, match="n_qubits"):
        F.write_file(tmp_path / "bad.h5", "s", [task], {})
    assert not list(tmp_path.iterdir())  # atomic: no partial or temp file is left
