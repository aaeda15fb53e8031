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

    from pyscf import gto, mcscf, scf

    from hpcq.sim.chem.geometry import active_space, atoms_of, core_orbitals

    p = json.loads(key)
    atoms = atoms_of(p["geometry"])
    mol = gto.M(
        atom=[(s, (x, y, z)) for s, x, y, z in atoms],
        basis=p["basis"],
        charge=p["charge"],
        spin=p["spin"],
        unit="Angstrom",
        verbose=0,
    )
    mf = scf.RHF(mol) if p["spin"] == 0 else scf.ROHF(mol)
    mf.conv_tol = 1e-12
    e_hf = float(mf.kernel())
    if not mf.converged:
        raise RuntimeError("RHF did not converge; check the geometry, charge and spin")
    frozen = sum(core_orbitals(a[0]) for a in atoms) if p["freeze_core"] else 0
    ncore, ncas, nelec = active_space(
        int(mol.nelectron), int(mol.nao), p["spin"], p["active_electrons"], p["active_orbitals"], frozen
    )
    cas = mcscf.CASCI(mf, ncas, nelec)
    cas.verbose = 0
    cas.fcisolver.conv_tol = 1e-12
    h1, ecore = cas.get_h1eff()
    from pyscf import ao2mo

    h2 = ao2mo.restore(1, cas.get_h2eff(), ncas)
    e_cas = float(cas.kernel()[0])
    return Integrals(
        h1=np.asarray(h1),
        h2=np.asarray(h2),
        ecore=float(ecore),
        norb=ncas,
        nelec=nelec,
        e_hf=e_hf,
        e_casci=e_cas,
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
) -> Integrals:
    """RHF (ROHF for spin > 0), then CASCI in the active space; cached per input."""
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
        },
        sort_keys=True,
    )
    return _molecule_integrals(key)


def fci_energy(ints: Integrals) -> float:
    """Exact energy of given integrals in their (na, nb) sector (PySCF FCI), total in Ha."""
    from pyscf import fci

    e, _ = fci.direct_spin1.kernel(ints.h1, ints.h2, ints.norb, ints.nelec, ecore=ints.ecore, conv_tol=1e-12)
    return float(e)
