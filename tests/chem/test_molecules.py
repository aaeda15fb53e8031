"""Molecules from PySCF: totals, active spaces, references that must agree, field errors, UCCSD VQE."""

import pytest

from hpcq.sim import problems
from hpcq.sim.spec import ProblemSpec, parse_sweep


def mol(**kw) -> ProblemSpec:
    return ProblemSpec(kind="molecule", **kw)


def test_h2_total_energy_and_agreement_with_h2_kind():
    p = mol(geometry="h2", mapping="jordan_wigner")
    assert p.qubits == 4
    assert problems.exact_ground_energy(p) == pytest.approx(-1.137306, abs=1e-6)
    ref = problems.reference(p)
    assert ref["hf_energy"] == pytest.approx(-1.116999, abs=1e-6)
    for mapping in ("parity", "jordan_wigner"):
        old = ProblemSpec(kind="h2", bond_length=0.735, mapping=mapping)
        total = problems.exact_ground_energy(old)  # kind h2 gives totals too (issue 25)
        assert problems.reference(old)["hf_energy"] == pytest.approx(ref["hf_energy"], abs=1e-8)
        assert total == pytest.approx(problems.exact_ground_energy(mol(geometry="h2", mapping=mapping)), abs=1e-8)


@pytest.mark.parametrize(
    "kw, qubits, e_casci",
    [
        (dict(geometry="lih", freeze_core=True, mapping="jordan_wigner"), 10, -7.88217599),
        (dict(geometry="lih", freeze_core=True, mapping="parity"), 8, -7.88217599),
        (dict(geometry="n2", active_electrons=6, active_orbitals=6, mapping="bravyi_kitaev"), 12, -107.62184886),
        (dict(geometry="h2o", active_electrons=4, active_orbitals=4, mapping="jordan_wigner"), 8, -74.97045438),
    ],
)
def test_active_spaces_match_pyscf_casci(kw, qubits, e_casci):
    p = mol(**kw)
    assert p.qubits == qubits
    ref = problems.reference(p)
    assert ref["exact_energy"] == pytest.approx(ref["pyscf_energy"], abs=1e-8)
    assert ref["exact_energy"] == pytest.approx(e_casci, abs=1e-7)
    assert ref["hf_energy"] == pytest.approx(ref["pyscf_hf_energy"], abs=1e-8)


def test_explicit_geometry_equals_builtin():
    p = mol(geometry=[["H", 0, 0, 0], ["H", 0, 0, 0.735]], mapping="parity")
    assert problems.exact_ground_energy(p) == pytest.approx(-1.13730604, abs=1e-8)


@pytest.mark.parametrize(
    "kw, words",
    [
        (dict(), "geometry is required"),
        (dict(geometry="xyz"), "unknown molecule"),
        (dict(geometry="h2o", active_electrons=3, active_orbitals=4), "active_electrons"),
        (dict(geometry="h2o", active_electrons=4, active_orbitals=9), "active_orbitals"),
        (dict(geometry="h2o", spin=1), "spin"),
        (dict(geometry="h2o"), "16"),  # 14 qubits parity is fine; full JW is too: checked below
        (dict(geometry=[["Xx", 0, 0, 0]]), "element"),
        (dict(geometry="h2o", basis="6-31g", mapping="jordan_wigner"), "26 qubits"),
        (dict(geometry="h2o", basis="no-such-basis"), "basis"),
    ],
)
def test_field_errors_name_the_field_and_fix(kw, words):
    if kw.get("geometry") == "h2o" and len(kw) == 1:
        assert mol(**kw).qubits == 12  # full-space water with parity: allowed (12 <= 16)
        return
    with pytest.raises(ValueError, match=words):
        parse_sweep({"problems": [dict(kind="molecule", **kw)]})


def test_reference_mismatch_fails_loudly(monkeypatch):
    from hpcq.sim.chem import molecule

    p = mol(geometry="h2", mapping="jordan_wigner", basis="STO-3G")
    ints = molecule.molecule_integrals("h2", "STO-3G")
    monkeypatch.setattr(ints, "e_casci", molecule.casci_energy(ints) + 1e-6)
    with pytest.raises(problems.ReferenceMismatch, match="disagree"):
        problems.reference(p)


def test_uccsd_vqe_water_reaches_chemical_accuracy():
    """8-qubit CAS(4e,4o) water, HF + UCCSD (26 parameters), noiseless L-BFGS-B (chemistry.md: 3.7 s)."""
    from hpcq.sim.vqe import run_task

    sw = parse_sweep(
        {
            "problems": [
                dict(kind="molecule", geometry="h2o", active_electrons=4, active_orbitals=4, mapping="jordan_wigner")
            ],
            "ansatze": [{"kind": "uccsd", "reps": 1}],
            "optimizers": [{"kind": "l_bfgs_b", "maxiter": 50, "gradient": "finite_difference"}],
            "method": "statevector",
        }
    )
    r = run_task(sw.tasks()[0])
    assert r.final_parameters.shape == (26,)
    assert r.metrics["abs_error"] < 1.6e-3
    assert r.metrics["chemical_accuracy"]
    assert r.metrics["hf_energy"] == pytest.approx(-74.96302314, abs=1e-7)


@pytest.mark.parametrize("mapping", ["jordan_wigner", "parity", "bravyi_kitaev"])
def test_hf_state_and_uccsd_at_zero_give_hf_energy_in_every_mapping(mapping):
    """The HF bits come from the mapping's encoding; UCCSD(0) = HF; one excitation lowers the energy."""
    import numpy as np
    from qiskit.quantum_info import Statevector

    from hpcq.sim.ansatz import build_ansatz
    from hpcq.sim.spec import AnsatzSpec

    p = mol(geometry="h2o", active_electrons=4, active_orbitals=4, mapping=mapping)
    qc = build_ansatz(AnsatzSpec(kind="uccsd", reps=1), p.qubits, p)
    H = problems.hamiltonian(p)
    e0 = Statevector(qc.assign_parameters(np.zeros(qc.num_parameters))).expectation_value(H).real
    assert e0 == pytest.approx(problems.reference(p)["pyscf_hf_energy"], abs=1e-8)
    he = build_ansatz(AnsatzSpec(kind="real_amplitudes", reps=1), p.qubits, p)
    from hpcq.sim.ansatz import hf_bits

    assert he.num_qubits == p.qubits and he.count_ops().get("x", 0) > 0 and len(hf_bits(p)) > 0  # HF first
    e_he = Statevector(he.assign_parameters(np.zeros(he.num_parameters))).expectation_value(H).real
    assert e_he == pytest.approx(e0, abs=1e-8)  # zero angles are the HF point (issue 25)
    assert len(hf_bits(p)) == 4 or mapping != "jordan_wigner"  # JW: one set bit per electron
