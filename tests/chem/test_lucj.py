"""LUCJ from ffsim (extra hpcq[lucj]): the parameterised circuit equals ffsim's own state and energy,
a short VQE improves on HF, and the field errors (mapping, missing ffsim) name the fix."""

import importlib.util

import numpy as np
import pytest

from hpcq.sim.spec import AnsatzSpec, parse_sweep

HAVE_FFSIM = importlib.util.find_spec("ffsim") is not None
needs_ffsim = pytest.mark.skipif(
    not HAVE_FFSIM, reason="ffsim is not installed (LUCJ is the optional extra: pip install 'hpcq[lucj]')"
)

H2 = {"kind": "molecule", "geometry": "h2", "mapping": "jordan_wigner"}
LIH = {"kind": "molecule", "geometry": "lih", "mapping": "jordan_wigner", "active_electrons": 2, "active_orbitals": 3}


def _ffsim_energy(problem, op) -> float:
    """ffsim's own statevector (apply_unitary on its HF state) and its own Hamiltonian."""
    import ffsim

    from hpcq.sim.chem.lucj import molecular_data

    norb, nelec = problem.spatial_orbitals, problem.electrons
    md = molecular_data(problem)
    vec = ffsim.apply_unitary(ffsim.hartree_fock_state(norb, nelec), op, norb=norb, nelec=nelec)
    return float(np.vdot(vec, ffsim.linear_operator(md.hamiltonian, norb=norb, nelec=nelec) @ vec).real)


@needs_ffsim
@pytest.mark.parametrize("interaction", ["local", "all"])
def test_lucj_energy_equals_ffsim(interaction):
    from qiskit import transpile
    from qiskit.quantum_info import Statevector

    from hpcq.sim.ansatz import build_ansatz, initial_point
    from hpcq.sim.chem import lucj
    from hpcq.sim.noise import BASIS_GATES
    from hpcq.sim.problems import hamiltonian

    sweep = parse_sweep({"problems": [LIH], "ansatze": [{"kind": "lucj", "reps": 2, "interaction": interaction}]})
    (task,) = sweep.tasks()
    p, spec = task.problem, task.ansatz
    qc = build_ansatz(spec, p.qubits, p)
    x0 = initial_point(spec, qc.num_parameters, np.random.default_rng(0))
    assert not x0.any()
    # the parameterised circuit at x = 0, transpiled to Aer's basis as the VQE runs it
    tqc = transpile(qc, basis_gates=BASIS_GATES, optimization_level=1, seed_transpiler=0)
    e_circ = float(Statevector(tqc.assign_parameters(x0)).expectation_value(hamiltonian(p)).real)
    pairs = lucj.interaction_pairs(p.spatial_orbitals, interaction)
    op = lucj.ucj_operator(p, 2, pairs, "ccsd")
    e_ffsim = _ffsim_energy(p, op)
    assert e_circ == pytest.approx(e_ffsim, abs=1e-10)
    # one parameter per ffsim parameter
    import ffsim

    norb = p.spatial_orbitals
    n = ffsim.UCJOpSpinBalanced.n_params(norb, 2, interaction_pairs=pairs, with_final_orbital_rotation=True)
    assert qc.num_parameters == n


@needs_ffsim
def test_operator_circuit_is_ffsims_gate_statevector():
    """Random UCJ operators: our circuit's state equals ffsim.qiskit's UCJOpSpinBalancedJW's, phase included."""
    import ffsim
    from qiskit import QuantumCircuit
    from qiskit.quantum_info import Statevector

    from hpcq.sim.chem import lucj

    norb, nelec = 3, (2, 1)
    for seed in range(2):
        op = ffsim.random.random_ucj_op_spin_balanced(norb, n_reps=2, with_final_orbital_rotation=True, seed=seed)
        qc = lucj.operator_circuit(op, nelec, lucj.interaction_pairs(norb, "all"))
        ref = QuantumCircuit(2 * norb)
        ref.append(ffsim.qiskit.PrepareHartreeFockJW(norb, nelec), range(2 * norb))
        ref.append(ffsim.qiskit.UCJOpSpinBalancedJW(op), range(2 * norb))
        psi = Statevector(qc.assign_parameters(np.zeros(qc.num_parameters))).data
        assert np.abs(psi - Statevector(ref).data).max() < 1e-10


def _short_vqe(prob: dict, maxiter: int) -> dict:
    from hpcq.sim.vqe import run_task

    sweep = parse_sweep(
        {
            "problems": [prob],
            "ansatze": [{"kind": "lucj", "reps": 1}],
            "optimizers": [{"kind": "cobyla", "maxiter": maxiter}],
        }
    )
    r = run_task(sweep.tasks()[0])
    assert r.metrics["energy"] <= float(r.trace_energy[0]) + 1e-12  # no worse than the CCSD start
    return r.metrics


@needs_ffsim
def test_lucj_vqe_improves_on_hf():
    """H2 (4 qubits): from CCSD amplitudes, COBYLA gets within 1e-4 Ha of the exact energy, 20 mHa below HF."""
    m = _short_vqe(H2, 150)
    assert m["energy"] < m["hf_energy"] - 1e-2, (m["energy"], m["hf_energy"])
    assert m["abs_error"] < 1e-4


@needs_ffsim
@pytest.mark.slow
def test_lucj_vqe_lih_active_space_improves_on_hf():
    """LiH CAS(2e,3o), 6 qubits: only 1.05 mHa of correlation energy; 60 COBYLA steps recover a third or more."""
    m = _short_vqe(LIH, 60)
    assert m["energy"] < m["hf_energy"] - 2e-4, (m["energy"], m["hf_energy"])
    assert m["abs_error"] < 1e-3


@needs_ffsim
def test_lucj_is_jordan_wigner_only():
    bad = dict(H2, mapping="parity")
    with pytest.raises(ValueError, match=r"problems\[0\]\.mapping.*jordan_wigner"):
        parse_sweep({"problems": [bad], "ansatze": [{"kind": "lucj"}]})
    with pytest.raises(ValueError, match="apply to ansatz kind 'lucj' only"):
        AnsatzSpec(kind="uccsd", interaction="all")


def test_lucj_without_ffsim_names_the_extra(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ffsim" else real(name, *a))
    with pytest.raises(ValueError, match=r"pip install 'hpcq\[lucj\]'"):
        parse_sweep({"problems": [H2], "ansatze": [{"kind": "lucj"}]})


def test_lucj_fields_keep_task_ids_stable():
    """The lucj-only fields are left out of the serialised spec at their defaults."""
    dumped = AnsatzSpec(kind="uccsd").model_dump(mode="json")
    assert "interaction" not in dumped and "initial_parameters" not in dumped
