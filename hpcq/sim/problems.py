"""Hamiltonians with exact reference energies (the yardstick for every VQE error metric).

Chemistry kinds (molecule, fcidump, pauli) get their operator from hpcq.sim.chem and two
independent exact references: PySCF (CASCI / FCI) and the lowest eigenvalue of the qubit operator
in the (N_alpha, N_beta) sector. They must agree to REFERENCE_TOL or the task fails: a wrong
reference would silently mis-score every run.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
from qiskit.quantum_info import SparsePauliOp

from hpcq.sim import h2
from hpcq.sim.spec import ProblemSpec

DENSE_MAX_QUBITS = 8  # above this, exact energies come from scipy's sparse Lanczos (eigsh)
REFERENCE_TOL = 1e-8  # Ha: PySCF vs qubit-sector exact energies
CHEMISTRY = ("molecule", "fcidump", "pauli")


class ReferenceMismatch(RuntimeError):
    pass


def _chain_bonds(n: int, boundary: str) -> list[tuple[int, int]]:
    bonds = [(i, i + 1) for i in range(n - 1)]
    if boundary == "periodic" and n > 2:
        bonds.append((n - 1, 0))
    return bonds


def _label(n: int, ops: dict[int, str]) -> str:
    # Qiskit labels are little-endian: qubit 0 is the rightmost character
    return "".join(ops.get(q, "I") for q in reversed(range(n)))


def integrals(problem: ProblemSpec):
    """Active-space integrals (molecule: PySCF; fcidump: the file); None for other kinds."""
    from hpcq.sim.chem import files
    from hpcq.sim.chem.molecule import molecule_integrals

    if problem.kind == "molecule":
        return molecule_integrals(
            problem.geometry,
            problem.basis,
            problem.charge,
            problem.spin,
            problem.active_electrons,
            problem.active_orbitals,
            problem.freeze_core,
        )
    if problem.kind == "fcidump":
        return files.load_fcidump(*files.source_bytes(problem.file, problem.data, problem.encoding, "FCIDUMP"))
    return None


@lru_cache(maxsize=64)
def _chem_hamiltonian(problem_json: str) -> SparsePauliOp:
    from hpcq.sim.chem import files
    from hpcq.sim.chem.mappings import qubit_hamiltonian

    problem = ProblemSpec.model_validate_json(problem_json)
    if problem.kind == "pauli":
        return files.load_pauli(*files.source_bytes(problem.file, problem.data, problem.encoding, "Pauli file"))[0]
    ints = integrals(problem)
    return qubit_hamiltonian(ints.h1, ints.h2, ints.ecore, problem.mapping, ints.nelec)


# Operators handed over by a parent workflow step (problem JSON -> (operator, references)): a VQE
# step uses its parent's Hamiltonian file instead of recomputing it (hpcq.workflow.steps).
_PROVIDED: dict[str, tuple[SparsePauliOp, dict[str, Any]]] = {}


def provide(problem: ProblemSpec, op: SparsePauliOp, refs: dict[str, Any]) -> None:
    """Use ``op`` and ``refs`` (needs exact_energy) for ``problem`` in this process."""
    if op.num_qubits != problem.qubits:
        raise ValueError(f"the parent's Hamiltonian has {op.num_qubits} qubits, the problem {problem.qubits}")
    _PROVIDED[problem.model_dump_json()] = (op, dict(refs))


def hamiltonian(problem: ProblemSpec) -> SparsePauliOp:
    key = problem.model_dump_json()
    if key in _PROVIDED:
        return _PROVIDED[key][0]
    n = problem.qubits
    if problem.kind == "h2":
        return SparsePauliOp.from_list(h2.h2_pauli_terms(problem.bond_length, problem.mapping))
    if problem.kind in CHEMISTRY:
        return _chem_hamiltonian(problem.model_dump_json())
    terms: list[tuple[str, float]] = []
    bonds = _chain_bonds(n, problem.boundary)
    if problem.kind == "tfim":
        terms += [(_label(n, {i: "Z", j: "Z"}), -problem.J) for i, j in bonds]
        terms += [(_label(n, {i: "X"}), -problem.field) for i in range(n)]
    else:  # heisenberg
        for p in "XYZ":
            terms += [(_label(n, {i: p, j: p}), problem.J) for i, j in bonds]
        if problem.field:
            terms += [(_label(n, {i: "Z"}), problem.field) for i in range(n)]
    return SparsePauliOp.from_list(terms).simplify()


def qubit_references(op: SparsePauliOp, mapping: str, norb: int, nelec: tuple[int, int]) -> dict[str, Any]:
    """Sector-exact lowest eigenvalue and the HF determinant's energy of a qubit Hamiltonian."""
    from hpcq.sim.chem.mappings import hf_occupation, occupation_to_bits
    from hpcq.sim.chem.sector import restricted_matrix, sector_ground_energy, sector_states

    states = sector_states(mapping, norb, tuple(nelec))
    e_sector = sector_ground_energy(op, states)
    hf_bits = occupation_to_bits(mapping, norb, hf_occupation(norb, tuple(nelec)))[0]
    hf_index = int(sum(int(b) << k for k, b in enumerate(hf_bits)))
    M = restricted_matrix(op, states)
    pos = int(np.searchsorted(states, hf_index))
    return {
        "exact_energy": e_sector,
        "exact_method": "qubit Hamiltonian, lowest eigenvalue in the "
        f"(N_alpha, N_beta) = {tuple(nelec)} sector ({len(states)} states)",
        "hf_energy": float(np.real(M[pos, pos])),
        "n_alpha": int(nelec[0]),
        "n_beta": int(nelec[1]),
        "spatial_orbitals": int(norb),
        "sector_dim": len(states),
        "hf_bits": hf_index,
        "energy_kind": "total (nuclear repulsion and frozen core included), Ha",
    }


def check_references(
    ref: dict[str, Any], pyscf_energy: float, label: str, pyscf_hf: float | None = None
) -> dict[str, Any]:
    """Add the PySCF reference; raise ReferenceMismatch when it and the qubit sector disagree."""
    ref = dict(ref, pyscf_energy=float(pyscf_energy), pyscf_method=label)
    e_sector = ref["exact_energy"]
    if abs(pyscf_energy - e_sector) > REFERENCE_TOL:
        raise ReferenceMismatch(
            f"exact references disagree: {label} {pyscf_energy:.10f} Ha vs qubit sector {e_sector:.10f} Ha "
            f"(|diff| {abs(pyscf_energy - e_sector):.2e} > {REFERENCE_TOL}); the mapping or the integrals are "
            "inconsistent, so no result is recorded"
        )
    if pyscf_hf is not None:
        ref["pyscf_hf_energy"] = float(pyscf_hf)
        if abs(ref["hf_energy"] - pyscf_hf) > REFERENCE_TOL:
            raise ReferenceMismatch(
                f"HF determinant energy {ref['hf_energy']:.10f} of the qubit Hamiltonian "
                f"differs from PySCF RHF {pyscf_hf:.10f} Ha by "
                f"{abs(ref['hf_energy'] - pyscf_hf):.2e}"
            )
    return ref


@lru_cache(maxsize=64)
def _chem_reference(problem_json: str) -> tuple[tuple[str, Any], ...]:
    from hpcq.sim.chem.molecule import fci_energy

    problem = ProblemSpec.model_validate_json(problem_json)
    op = _chem_hamiltonian(problem_json)
    ref = qubit_references(op, problem.mapping, problem.spatial_orbitals, problem.electrons)
    if problem.kind == "molecule":
        ints = integrals(problem)
        label = "PySCF CASCI" + (" (= FCI)" if ints.info.get("casci_is_fci") else "")
        ref = check_references(ref, ints.e_casci, label, ints.e_hf)
        ref.update(nuclear_repulsion=ints.info["nuclear_repulsion"], core_orbitals=ints.info["ncore"])
    elif problem.kind == "fcidump":
        ref = check_references(ref, fci_energy(integrals(problem)), "PySCF FCI of the FCIDUMP integrals")
    return tuple(sorted(ref.items()))


def reference(problem: ProblemSpec) -> dict[str, Any]:
    """Exact references of a chemistry problem (raises ReferenceMismatch); {} for other kinds."""
    key = problem.model_dump_json()
    if key in _PROVIDED:
        return {k: v for k, v in _PROVIDED[key][1].items() if problem.kind in CHEMISTRY}
    if problem.kind not in CHEMISTRY:
        return {}
    return dict(_chem_reference(key))


@lru_cache(maxsize=256)
def _exact(problem_json: str) -> float:
    problem = ProblemSpec.model_validate_json(problem_json)
    if problem.kind == "h2":
        # ground state of the 2-electron S_z=0 sector (equals the whole-space minimum for 0.2-5 Å)
        return h2.sector_ground_energy(problem.bond_length)
    if problem.kind in CHEMISTRY:
        return float(dict(_chem_reference(problem_json))["exact_energy"])
    if problem.kind == "tfim" and problem.boundary == "open" and problem.qubits > 16:
        from hpcq.sim.tfim_exact import tfim_open_ground_energy  # free fermions: any n (Lanczos stops ~20)

        return tfim_open_ground_energy(problem.qubits, problem.J, problem.field)
    op = hamiltonian(problem)
    if problem.qubits <= DENSE_MAX_QUBITS:
        return float(np.linalg.eigvalsh(op.to_matrix())[0])
    from scipy.sparse.linalg import eigsh

    mat = op.to_matrix(sparse=True)
    v0 = np.ones(mat.shape[0]) / np.sqrt(mat.shape[0])  # fixed start vector: reproducible
    return float(eigsh(mat, k=1, which="SA", v0=v0, tol=1e-12)[0][0])


def exact_ground_energy(problem: ProblemSpec) -> float:
    """Exact ground energy (h2: electronic Ha; molecule/fcidump/pauli: total Ha; spin chains: units of J)."""
    key = problem.model_dump_json()
    if key in _PROVIDED:
        return float(_PROVIDED[key][1]["exact_energy"])
    return _exact(key)


def nuclear_repulsion(problem: ProblemSpec) -> float:
    """Ha, for h2 only (its energies are electronic); chemistry kinds already include it; 0 otherwise."""
    return h2.mo_integrals(problem.bond_length)[2] if problem.kind == "h2" else 0.0
