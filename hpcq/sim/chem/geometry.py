"""Built-in molecules and the orbital/electron counts needed to size a job (pure Python).

Geometries (Å) are equilibrium structures; their energies in active spaces: docs/chemistry.md.
"""

from __future__ import annotations

BUILTIN: dict[str, list[tuple[str, float, float, float]]] = {
    "h2": [("H", 0.0, 0.0, 0.0), ("H", 0.0, 0.0, 0.735)],
    "lih": [("Li", 0.0, 0.0, 0.0), ("H", 0.0, 0.0, 1.5949)],
    "h2o": [("O", 0.0, 0.0, 0.1173), ("H", 0.0, 0.7572, -0.4692), ("H", 0.0, -0.7572, -0.4692)],
    "beh2": [("Be", 0.0, 0.0, 0.0), ("H", 0.0, 0.0, 1.3264), ("H", 0.0, 0.0, -1.3264)],
    "n2": [("N", 0.0, 0.0, 0.0), ("N", 0.0, 0.0, 1.0977)],
}

ELEMENTS = ["H", "He", "Li", "Be", "B", "C", "N", "O", "F", "Ne", "Na", "Mg", "Al", "Si", "P", "S", "Cl", "Ar"]
Z = {s: i + 1 for i, s in enumerate(ELEMENTS)}


def sto3g_orbitals(symbol: str) -> int:
    """Spatial orbitals of an atom in STO-3G (1s | 1s2s2p | 1s2s2p3s3p)."""
    z = Z[symbol]
    return 1 if z <= 2 else (5 if z <= 10 else 9)


def core_orbitals(symbol: str) -> int:
    """Doubly occupied core orbitals frozen by ``freeze_core`` (PySCF's chemical-core convention)."""
    z = Z[symbol]
    return 0 if z <= 2 else (1 if z <= 10 else 5)


def atoms_of(geometry) -> list[tuple[str, float, float, float]]:
    """Normalise a geometry (built-in name or [[symbol, x, y, z], ...]) to tuples; raises ValueError."""
    if isinstance(geometry, str):
        key = geometry.strip().lower()
        if key not in BUILTIN:
            raise ValueError(
                f"unknown molecule {geometry!r}; use one of {', '.join(BUILTIN)} or give "
                "atoms as [[symbol, x, y, z], ...] in Å"
            )
        return BUILTIN[key]
    atoms = []
    for i, a in enumerate(geometry):
        if not (isinstance(a, (list, tuple)) and len(a) == 4 and isinstance(a[0], str)):
            raise ValueError(f"atom {i}: {a!r} is not [symbol, x, y, z]; write e.g. [O, 0.0, 0.0, 0.1173] (Å)")
        sym = a[0].strip().capitalize()
        if sym not in Z:
            raise ValueError(f"atom {i}: element {a[0]!r} unknown; use H-Ar")
        try:
            xyz = tuple(float(c) for c in a[1:])
        except (TypeError, ValueError):
            raise ValueError(f"atom {i}: coordinates {a[1:]!r} are not numbers (Å)") from None
        atoms.append((sym, *xyz))
    if not atoms:
        raise ValueError("geometry has no atoms; give a built-in name or [[symbol, x, y, z], ...]")
    return atoms


def active_space(
    n_electrons: int,
    norb_total: int,
    spin: int,
    active_electrons: int | None,
    active_orbitals: int | None,
    n_core_frozen: int,
) -> tuple[int, int, tuple[int, int]]:
    """(ncore, ncas, (na, nb)) from the spec's fields; ValueError names the field and the fix."""
    if (n_electrons + spin) % 2:
        raise ValueError(
            f"spin: {spin} (= 2S) is impossible with {n_electrons} electrons; use an "
            f"{'even' if n_electrons % 2 == 0 else 'odd'} spin"
        )
    ncore = n_core_frozen
    if active_electrons is not None:
        if (n_electrons - active_electrons) % 2 or active_electrons > n_electrons or active_electrons < 1:
            raise ValueError(
                f"active_electrons: {active_electrons} leaves {n_electrons - active_electrons} "
                "core electrons; the core must be an even number >= 0"
            )
        ncore = (n_electrons - active_electrons) // 2
        if ncore < n_core_frozen:
            raise ValueError(
                f"active_electrons: {active_electrons} puts frozen-core electrons in the "
                "active space; lower it or drop freeze_core"
            )
    nact_el = n_electrons - 2 * ncore
    ncas = active_orbitals if active_orbitals is not None else norb_total - ncore
    if ncas < 1 or ncore + ncas > norb_total:
        raise ValueError(
            f"active_orbitals: {ncas} with {ncore} core orbitals exceeds the {norb_total} "
            f"orbitals of the basis; use at most {norb_total - ncore}"
        )
    na, nb = (nact_el + spin) // 2, (nact_el - spin) // 2
    if na > ncas or nb < 0:
        raise ValueError(f"active_orbitals: {ncas} orbitals cannot hold {na} alpha electrons; use more active orbitals")
    return ncore, ncas, (na, nb)


def molecule_size(
    geometry,
    basis: str,
    charge: int,
    spin: int,
    active_electrons: int | None,
    active_orbitals: int | None,
    freeze_core: bool,
) -> tuple[int, int, tuple[int, int]]:
    """(ncore, ncas, (na, nb)) without running anything: STO-3G orbital counts are tabulated; other
    bases ask PySCF (only the basis-set parser, no SCF)."""
    atoms = atoms_of(geometry)
    n_el = sum(Z[a[0]] for a in atoms) - charge
    if n_el < 1:
        raise ValueError(f"charge: {charge} leaves {n_el} electrons; lower the charge")
    if basis.replace("-", "").lower() == "sto3g":
        norb = sum(sto3g_orbitals(a[0]) for a in atoms)
    else:
        try:
            from pyscf import gto
        except ImportError:
            raise ValueError(
                f"basis: {basis!r} needs PySCF to count orbitals here; install hpcq[worker] or give active_orbitals"
            ) from None
        try:
            norb = int(
                gto.M(
                    atom=[(s, (x, y, z)) for s, x, y, z in atoms], basis=basis, charge=charge, spin=spin, verbose=0
                ).nao
            )
        except Exception as exc:  # noqa: BLE001 - PySCF raises assorted types for unknown bases
            raise ValueError(
                f"basis: {basis!r} is not usable ({exc}); use a PySCF basis name, e.g. sto-3g, 6-31g, cc-pvdz"
            ) from None
    frozen = sum(core_orbitals(a[0]) for a in atoms) if freeze_core else 0
    return active_space(n_el, norb, spin, active_electrons, active_orbitals, frozen)
