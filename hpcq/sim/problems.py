"""Hamiltonians with exact reference energies (the yardstick for every VQE error metric).

Chemistry kinds (molecule, fcidump, pauli) get their operator from hpcq.sim.chem. Problems from
integrals (molecule, fcidump) take their exact reference from PySCF (CASCI / FCI, its memory
estimated before it runs) and cross-check it with the lowest eigenvalue of the qubit operator in
the (N_alpha, N_beta) sector where that is small; Pauli lists have only the sector eigenvalue, its
memory estimated and refused with the numbers when it does not fit. References must agree to
REFERENCE_TOL or the task fails: a wrong reference would silently mis-score every run.
``reference: skip`` on a problem computes none (exact_energy NaN).
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


class ReferenceTooLarge(ValueError):
    """The exact reference would not fit in memory; the message has the numbers and the fix."""


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
            problem.unit,
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
    if problem.kind == "h2":  # totals, as every molecule: the nuclear repulsion in the identity term
        terms = h2.h2_pauli_terms(problem.bond_length, problem.mapping) + [("I" * n, nuclear_repulsion(problem))]
        return SparsePauliOp.from_list(terms).simplify(atol=1e-14)
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


def _hf_index(mapping: str, norb: int, nelec: tuple[int, int]) -> int:
    from hpcq.sim.chem.mappings import hf_occupation, occupation_to_bits

    hf_bits = occupation_to_bits(mapping, norb, hf_occupation(norb, tuple(nelec)))[0]
    return int(sum(int(b) << k for k, b in enumerate(hf_bits)))


def qubit_references(
    op: SparsePauliOp, mapping: str, norb: int, nelec: tuple[int, int], budget: int | None = None
) -> dict[str, Any]:
    """Sector-exact lowest eigenvalue and the HF determinant's energy of a qubit Hamiltonian. Its
    memory is estimated first: over ``budget`` (default: what the process has) it raises
    SectorTooLarge with the numbers, before allocating."""
    from hpcq.sim.chem import sector as S

    est = S.estimate(op, norb, tuple(nelec))
    S.check_fits(est, nelec, budget)
    states = S.sector_states(mapping, norb, tuple(nelec))
    hf_index = _hf_index(mapping, norb, nelec)
    return {
        "exact_energy": S.sector_ground_energy(op, states),
        "exact_method": "qubit Hamiltonian, lowest eigenvalue in the "
        f"(N_alpha, N_beta) = {tuple(nelec)} sector ({len(states)} states)",
        "hf_energy": S.diagonal_element(op, hf_index),
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


def checked_fci(ints, label: str = "PySCF FCI", budget: int | None = None) -> float:
    """PySCF FCI (= CASCI) of active-space integrals after its memory estimate
    (hpcq.sim.memory.fci_bytes) is compared with ``budget`` (default: what the process has);
    ReferenceTooLarge with the numbers and the fix when it does not fit."""
    from hpcq.sim import memory
    from hpcq.sim.chem.molecule import casci_energy

    norb, nelec = ints.norb, tuple(ints.nelec)
    need = memory.fci_bytes(norb, nelec)
    budget = memory.available_bytes() if budget is None else budget
    if ints.e_casci is None and need > budget:
        raise ReferenceTooLarge(
            f"the exact reference ({label}) has {memory.sector_dim(norb, nelec)} determinants "
            f"({norb} orbitals, (N_alpha, N_beta) = {nelec}) and needs about {memory.fmt_bytes(need)}, more "
            f"than the {memory.fmt_bytes(budget)} available; set reference: skip on the problem, or use a "
            "smaller active space (active_electrons, active_orbitals)"
        )
    return casci_energy(ints)


def integral_references(
    op: SparsePauliOp,
    ints,
    mapping: str,
    label: str,
    pyscf_hf: float | None = None,
    budget: int | None = None,
) -> dict[str, Any]:
    """References of a problem from integrals: the exact energy is PySCF's FCI (= CASCI) of the
    active-space integrals, its memory estimated first (hpcq.sim.memory.fci_bytes; over ``budget``
    a ReferenceTooLarge with the numbers); the HF energy is the qubit operator's diagonal at the HF
    state. The qubit-sector eigenvalue cross-checks both where it needs at most
    hpcq.sim.memory.SECTOR_CROSSCHECK_BYTES; any disagreement beyond REFERENCE_TOL raises ReferenceMismatch."""
    from hpcq.sim import memory
    from hpcq.sim.chem import sector as S

    norb, nelec = ints.norb, tuple(ints.nelec)
    budget = memory.available_bytes() if budget is None else budget
    e_fci = checked_fci(ints, label, budget)
    hf_index = _hf_index(mapping, norb, nelec)
    ref: dict[str, Any] = {
        "exact_energy": e_fci,
        "exact_method": f"{label} ({memory.sector_dim(norb, nelec)} determinants)",
        "hf_energy": S.diagonal_element(op, hf_index),
        "n_alpha": int(nelec[0]),
        "n_beta": int(nelec[1]),
        "spatial_orbitals": int(norb),
        "sector_dim": memory.sector_dim(norb, nelec),
        "hf_bits": hf_index,
        "energy_kind": "total (nuclear repulsion and frozen core included), Ha",
    }
    est = S.estimate(op, norb, nelec)
    if est["bytes"] <= min(memory.SECTOR_CROSSCHECK_BYTES, budget):
        sector = qubit_references(op, mapping, norb, nelec, budget)
        checked = check_references(sector, e_fci, label, pyscf_hf)
        ref.update(pyscf_energy=e_fci, pyscf_method=label, sector_energy=sector["exact_energy"])
        ref["cross_check"] = f"qubit sector eigenvalue equals {label} within {REFERENCE_TOL} Ha"
        if "pyscf_hf_energy" in checked:
            ref["pyscf_hf_energy"] = checked["pyscf_hf_energy"]
        return ref
    ref.update(pyscf_energy=e_fci, pyscf_method=label)
    ref["cross_check"] = (
        f"qubit sector not diagonalised (it would need {memory.fmt_bytes(est['bytes'])}); HF diagonal element checked"
    )
    if pyscf_hf is not None:
        ref["pyscf_hf_energy"] = float(pyscf_hf)
        if abs(ref["hf_energy"] - pyscf_hf) > REFERENCE_TOL:
            raise ReferenceMismatch(
                f"HF determinant energy {ref['hf_energy']:.10f} of the qubit Hamiltonian differs from "
                f"PySCF RHF {pyscf_hf:.10f} Ha by {abs(ref['hf_energy'] - pyscf_hf):.2e}"
            )
    return ref


SKIPPED = "skipped (reference: skip): no exact energy, so no errors or chemical accuracy"


@lru_cache(maxsize=64)
def _chem_reference(problem_json: str) -> tuple[tuple[str, Any], ...]:
    problem = ProblemSpec.model_validate_json(problem_json)
    op = _chem_hamiltonian(problem_json)
    norb, nelec = problem.spatial_orbitals, problem.electrons
    if problem.reference == "skip":
        from hpcq.sim.chem.sector import diagonal_element

        hf_index = _hf_index(problem.mapping, norb, nelec)
        ref: dict[str, Any] = {
            "exact_energy": float("nan"),
            "exact_method": SKIPPED,
            "hf_energy": diagonal_element(op, hf_index),
            "n_alpha": int(nelec[0]),
            "n_beta": int(nelec[1]),
            "spatial_orbitals": int(norb),
            "energy_kind": "total (nuclear repulsion and frozen core included), Ha",
        }
    elif problem.kind == "molecule":
        ints = integrals(problem)
        label = "PySCF CASCI" + (" (= FCI)" if ints.info.get("casci_is_fci") else "")
        ref = integral_references(op, ints, problem.mapping, label, ints.e_hf)
    elif problem.kind == "fcidump":
        ref = integral_references(op, integrals(problem), problem.mapping, "PySCF FCI of the FCIDUMP integrals")
    else:
        ref = qubit_references(op, problem.mapping, norb, nelec)
    if problem.kind == "molecule":
        ints = integrals(problem)
        ref.update(nuclear_repulsion=ints.info["nuclear_repulsion"], core_orbitals=ints.info["ncore"])
    return tuple(sorted(ref.items()))


def reference(problem: ProblemSpec) -> dict[str, Any]:
    """Exact references of a chemistry problem (raises ReferenceMismatch); {} for other kinds."""
    key = problem.model_dump_json()
    if key in _PROVIDED:
        return {k: v for k, v in _PROVIDED[key][1].items() if problem.kind in CHEMISTRY}
    if problem.kind == "h2":
        return dict(_h2_reference(key))
    if problem.kind not in CHEMISTRY:
        return {}
    return dict(_chem_reference(key))


@lru_cache(maxsize=64)
def _h2_reference(problem_json: str) -> tuple[tuple[str, Any], ...]:
    """kind h2: the HF determinant's energy (the operator's diagonal at the HF bits) and the nuclear
    repulsion, totals in Ha like every molecule's references."""
    from hpcq.sim.chem.sector import diagonal_element

    problem = ProblemSpec.model_validate_json(problem_json)
    hf_index = _hf_index(problem.mapping, 2, (1, 1))
    ref = {
        "exact_energy": _exact(problem_json),
        "exact_method": "closed-form STO-3G integrals, lowest eigenvalue in the (1, 1) sector",
        "hf_energy": diagonal_element(hamiltonian(problem), hf_index),
        "n_alpha": 1,
        "n_beta": 1,
        "spatial_orbitals": 2,
        "hf_bits": hf_index,
        "nuclear_repulsion": nuclear_repulsion(problem),
        "energy_kind": "total (nuclear repulsion and frozen core included), Ha",
    }
    return tuple(sorted(ref.items()))


@lru_cache(maxsize=256)
def _exact(problem_json: str) -> float:
    problem = ProblemSpec.model_validate_json(problem_json)
    if problem.kind == "h2":
        # ground state of the 2-electron S_z=0 sector (equals the whole-space minimum for 0.2-5 Å), total
        return h2.sector_ground_energy(problem.bond_length) + nuclear_repulsion(problem)
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
    """Exact ground energy (h2/molecule/fcidump/pauli: total Ha; spin chains: units of J)."""
    key = problem.model_dump_json()
    if key in _PROVIDED:
        return float(_PROVIDED[key][1]["exact_energy"])
    return _exact(key)


def nuclear_repulsion(problem: ProblemSpec) -> float:
    """Nuclear repulsion 1/R (Ha) of kind h2, which its Hamiltonian and energies include (totals, as
    every molecule's); 0 for other kinds (molecules carry theirs in reference()['nuclear_repulsion'])."""
    return h2.mo_integrals(problem.bond_length)[2] if problem.kind == "h2" else 0.0
