"""Bring your own problem as data: FCIDUMP, Pauli lists (JSON/HDF5), QASM3/QPY ansatze, embedding."""

import base64
import io
import json

import numpy as np
import pytest

from hpcq.client.study import StudyError, load_study
from hpcq.sim import problems
from hpcq.sim.ansatz import build_ansatz
from hpcq.sim.chem.molecule import molecule_integrals
from hpcq.sim.spec import AnsatzSpec, ProblemSpec, parse_sweep

WATER = dict(kind="molecule", geometry="h2o", active_electrons=4, active_orbitals=4, mapping="jordan_wigner")


def _fcidump_text(tmp_path) -> str:
    from pyscf import ao2mo
    from pyscf.tools import fcidump

    ints = molecule_integrals("h2o", active_electrons=4, active_orbitals=4)
    path = tmp_path / "h2o.fcidump"
    fcidump.from_integrals(str(path), ints.h1, ao2mo.restore(8, ints.h2, ints.norb), ints.norb, 4, nuc=ints.ecore)
    return path.read_text()


def test_fcidump_equals_molecule(tmp_path):
    text = _fcidump_text(tmp_path)
    p = ProblemSpec(kind="fcidump", file="h2o.fcidump", data=text, mapping="jordan_wigner")
    assert p.qubits == 8 and p.electrons == (2, 2)
    ref = problems.reference(p)
    mol = ProblemSpec(**WATER)
    assert ref["exact_energy"] == pytest.approx(problems.exact_ground_energy(mol), abs=1e-9)
    assert ref["pyscf_energy"] == pytest.approx(ref["exact_energy"], abs=1e-8)
    diff = (problems.hamiltonian(p) - problems.hamiltonian(mol)).simplify(atol=1e-11)
    assert np.max(np.abs(diff.coeffs)) < 1e-10


def test_pauli_json_and_hdf5(tmp_path):
    import h5py

    H = problems.hamiltonian(ProblemSpec(**WATER))
    doc = {"labels": H.paulis.to_labels(), "coeffs": [float(c.real) for c in H.coeffs], "num_particles": [2, 2]}
    pj = ProblemSpec(kind="pauli", file="h.json", data=json.dumps(doc), mapping="jordan_wigner")
    assert problems.exact_ground_energy(pj) == pytest.approx(-74.97045438545, abs=1e-8)
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        f["labels"] = doc["labels"]
        f["coeffs"] = np.array(doc["coeffs"])
        f.attrs["num_particles"] = [2, 2]
    ph = ProblemSpec(
        kind="pauli",
        file="h.h5",
        data=base64.b64encode(buf.getvalue()).decode(),
        encoding="base64",
        mapping="jordan_wigner",
    )
    assert ph.qubits == 8
    assert problems.exact_ground_energy(ph) == pytest.approx(problems.exact_ground_energy(pj), abs=1e-12)


@pytest.mark.parametrize(
    "data, words",
    [
        ("&FCI NORB=2,\n  0.5 1 1 1 1\n", "&END"),
        ("&FCI NELEC=2,\n&END\n", "NORB is missing"),
        ("&FCI NORB=2, NELEC=2,\n&END\n 0.5 1 1 x 1\n", "line 3"),
        ("&FCI NORB=2, NELEC=2,\n&END\n 0.5 1 1 7 1\n", "line 3: orbital index"),
        ("hello", "line 1"),
    ],
)
def test_bad_fcidump_names_file_and_line(data, words):
    with pytest.raises(ValueError, match=words) as exc:
        p = ProblemSpec(kind="fcidump", file="bad.fcidump", data=data)
        problems.hamiltonian(p)
    assert "bad.fcidump" in str(exc.value)


@pytest.mark.parametrize(
    "doc, words",
    [
        ({"labels": ["ZZ", "XI"], "coeffs": [1.0]}, "coeffs"),
        ({"labels": ["ZZ", "XQ"], "coeffs": [1.0, 2.0], "num_particles": [1, 0]}, r"labels\[1\]"),
        ({"labels": ["ZZ"], "coeffs": [1.0]}, "num_particles"),
    ],
)
def test_bad_pauli_file(doc, words):
    with pytest.raises(ValueError, match=words) as exc:
        parse_sweep(
            {"problems": [{"kind": "pauli", "file": "mine.json", "data": json.dumps(doc), "mapping": "jordan_wigner"}]}
        )
    assert "mine.json" in str(exc.value)


def test_qasm3_and_qpy_ansatz():
    from qiskit import QuantumCircuit, qasm3, qpy
    from qiskit.circuit import Parameter

    qc = QuantumCircuit(2)
    qc.ry(Parameter("a"), 0)
    qc.cx(0, 1)
    qc.ry(Parameter("b"), 1)
    text = qasm3.dumps(qc)
    a = build_ansatz(AnsatzSpec(kind="qasm3", file="c.qasm", data=text), 2)
    assert a.num_parameters == 2
    buf = io.BytesIO()
    qpy.dump(qc, buf)
    b = build_ansatz(AnsatzSpec(kind="qpy", file="c.qpy", data=base64.b64encode(buf.getvalue()).decode()), 2)
    assert b.num_parameters == 2
    with pytest.raises(ValueError, match="c.qasm: the circuit has 2 qubits but the problem 3"):
        build_ansatz(AnsatzSpec(kind="qasm3", file="c.qasm", data=text), 3)
    with pytest.raises(ValueError, match="c.qasm: OpenQASM 3 parse error"):
        build_ansatz(AnsatzSpec(kind="qasm3", file="c.qasm", data="OPENQASM 3.0;\nqubit[2] q;\nfoo q[0];\n"), 2)
    with pytest.raises(ValueError, match="c.qpy: not a QPY file"):
        build_ansatz(AnsatzSpec(kind="qpy", file="c.qpy", data=base64.b64encode(b"nope").decode()), 2)


def test_study_embeds_local_files_and_keeps_cluster_references(tmp_path):
    (tmp_path / "h2o.fcidump").write_text(_fcidump_text(tmp_path))
    (tmp_path / "s.yaml").write_text(
        "name: byo\nsweep:\n  problems:\n    - {kind: fcidump, file: h2o.fcidump, mapping: jordan_wigner}\n"
        "    - {kind: fcidump, file: 'cluster:/scratch/none.fcidump', n_qubits: 8}\n"
    )
    study = load_study(tmp_path / "s.yaml")
    p0, p1 = study.params.problems
    assert p0.data and p0.file == "h2o.fcidump" and p0.qubits == 8
    assert p1.data is None and p1.file == "/scratch/none.fcidump" and p1.by_reference and p1.qubits == 8
    (tmp_path / "t.yaml").write_text("name: byo\nsweep:\n  problems:\n    - {kind: fcidump, file: missing.fcidump}\n")
    with pytest.raises(StudyError, match="missing.fcidump not found"):
        load_study(tmp_path / "t.yaml")
