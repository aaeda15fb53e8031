"""Molecule -> RHF -> active-space integrals (h1, h2, ecore) and the CASCI reference, with PySCF.

Energies are totals in Ha: ``ecore`` holds nuclear repulsion plus the frozen-core energy, so the
qubit Hamiltonian's constant term makes every eigenvalue a total energy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np


@dataclass
class Integrals:
    """Active-space integrals in the RHF MO basis. h2 is chemists' notation (pq|rs), 4-index."""

    h1: np.ndarray
    h2: np.ndarray
    ecore: float
    norb: int
    nelec: tuple[int, int]  # (alpha, beta) in the active space
    e_hf: float | None = None
    e_casci: float | None = None
    info: dict = field(default_factory=dict)


@lru_cache(maxsize=32)
def _molecule_integrals(key: str) -> Integrals:
    import json

    from pyscf import mcscf, scf

    from hpcq.sim.chem.geometry import active_space, atoms_of, frozen_core, pyscf_mole

    p = json.loads(key)
    atoms = atoms_of(p["geometry"], p.get("unit", "angstrom"))
    mol = pyscf_mole(atoms, p["basis"], p["charge"], p["spin"])
    mf = scf.RHF(mol) if p["spin"] == 0 else scf.ROHF(mol)
    mf.conv_tol = 1e-12
    e_hf = float(mf.kernel())
    if not mf.converged:
        raise RuntimeError("RHF did not converge; check the geometry, charge and spin")
    frozen = frozen_core(atoms, mol) if p["freeze_core"] else 0
    ncore, ncas, nelec = active_space(
        int(mol.nelectron), int(mol.nao), p["spin"], p["active_electrons"], p["active_orbitals"], frozen
    )
    cas = mcscf.CASCI(mf, ncas, nelec)
    cas.verbose = 0
    cas.fcisolver.conv_tol = 1e-12
    h1, ecore = cas.get_h1eff()
    from pyscf import ao2mo

    h2 = ao2mo.restore(1, cas.get_h2eff(), ncas)
    return Integrals(
        h1=np.asarray(h1),
        h2=np.asarray(h2),
        ecore=float(ecore),
        norb=ncas,
        nelec=nelec,
        e_hf=e_hf,
        info={
            "ncore": ncore,
            "ncas": ncas,
            "nao": int(mol.nao),
            "nelectron": int(mol.nelectron),
            "nuclear_repulsion": float(mol.energy_nuc()),
            "casci_is_fci": ncore == 0 and ncas == int(mol.nao),
        },
    )


def molecule_integrals(
    geometry,
    basis: str = "sto-3g",
    charge: int = 0,
    spin: int = 0,
    active_electrons: int | None = None,
    active_orbitals: int | None = None,
    freeze_core: bool = False,
    unit: str = "angstrom",
) -> Integrals:
    """RHF (ROHF for spin > 0), then the active space's integrals (CASCI's h1eff, h2eff, ecore);
    cached per input. The CASCI energy is ``fci_energy`` of these integrals (the same problem
    PySCF's mcscf.CASCI solves), run only after its cost is known (hpcq.sim.memory.fci_bytes)."""
    import json

    key = json.dumps(
        {
            "geometry": geometry,
            "basis": basis,
            "charge": charge,
            "spin": spin,
            "active_electrons": active_electrons,
            "active_orbitals": active_orbitals,
            "freeze_core": freeze_core,
            **({"unit": unit} if unit != "angstrom" else {}),
        },
        sort_keys=True,
    )
    return _molecule_integrals(key)


def casci_energy(ints: Integrals) -> float:
    """The exact energy in the active space (PySCF FCI of the integrals = mcscf.CASCI's energy for
    a molecule), computed once and kept in ``ints.e_casci``. Callers estimate its memory first
    (hpcq.sim.memory.fci_bytes): hpcq.sim.problems.integral_references."""
    if ints.e_casci is None:
        ints.e_casci = fci_energy(ints)
    return ints.e_casci


def fci_energy(ints: Integrals) -> float:
    """Exact energy of given integrals in their (na, nb) sector (PySCF FCI), total in Ha."""
    from pyscf import fci

    e, _ = fci.direct_spin1.kernel(ints.h1, ints.h2, ints.norb, ints.nelec, ecore=ints.ecore, conv_tol=1e-12)
    return float(e)
