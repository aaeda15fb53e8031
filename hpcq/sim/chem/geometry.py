"""Geometries as chemists write them, and the orbital/electron counts needed to size a job (pure Python).

Accepted forms (docs/chemistry.md "Geometry"): a built-in name; ``[[symbol, x, y, z], ...]``; a
PySCF atom string (``"Li 0 0 0; H 0 0 1.6"``, ``;`` or newlines between atoms); an XYZ file's text
(first line the atom count, second a comment); a Z-matrix (``"O; H 1 0.96; H 1 0.96 2 104.5"``,
1-based references, optional ``name = value`` variables). ``unit`` (angstrom | bohr) applies to the
coordinates and Z-matrix distances given; built-in geometries are in Å. Everything is converted
to Cartesian Å here, so PySCF and the sizing see the same atoms.
"""

from __future__ import annotations

import math
import re

BUILTIN: dict[str, list[tuple[str, float, float, float]]] = {
    "h2": [("H", 0.0, 0.0, 0.0), ("H", 0.0, 0.0, 0.735)],
    "lih": [("Li", 0.0, 0.0, 0.0), ("H", 0.0, 0.0, 1.5949)],
    "h2o": [("O", 0.0, 0.0, 0.1173), ("H", 0.0, 0.7572, -0.4692), ("H", 0.0, -0.7572, -0.4692)],
    "beh2": [("Be", 0.0, 0.0, 0.0), ("H", 0.0, 0.0, 1.3264), ("H", 0.0, 0.0, -1.3264)],
    "n2": [("N", 0.0, 0.0, 0.0), ("N", 0.0, 0.0, 1.0977)],
}

# the periodic table as PySCF numbers it (pyscf.data.elements.ELEMENTS without the dummy 'X')
ELEMENTS = [
    "H",
    "He",
    "Li",
    "Be",
    "B",
    "C",
    "N",
    "O",
    "F",
    "Ne",
    "Na",
    "Mg",
    "Al",
    "Si",
    "P",
    "S",
    "Cl",
    "Ar",
    "K",
    "Ca",
    "Sc",
    "Ti",
    "V",
    "Cr",
    "Mn",
    "Fe",
    "Co",
    "Ni",
    "Cu",
    "Zn",
    "Ga",
    "Ge",
    "As",
    "Se",
    "Br",
    "Kr",
    "Rb",
    "Sr",
    "Y",
    "Zr",
    "Nb",
    "Mo",
    "Tc",
    "Ru",
    "Rh",
    "Pd",
    "Ag",
    "Cd",
    "In",
    "Sn",
    "Sb",
    "Te",
    "I",
    "Xe",
    "Cs",
    "Ba",
    "La",
    "Ce",
    "Pr",
    "Nd",
    "Pm",
    "Sm",
    "Eu",
    "Gd",
    "Tb",
    "Dy",
    "Ho",
    "Er",
    "Tm",
    "Yb",
    "Lu",
    "Hf",
    "Ta",
    "W",
    "Re",
    "Os",
    "Ir",
    "Pt",
    "Au",
    "Hg",
    "Tl",
    "Pb",
    "Bi",
    "Po",
    "At",
    "Rn",
    "Fr",
    "Ra",
    "Ac",
    "Th",
    "Pa",
    "U",
    "Np",
    "Pu",
    "Am",
    "Cm",
    "Bk",
    "Cf",
    "Es",
    "Fm",
    "Md",
    "No",
    "Lr",
    "Rf",
    "Db",
    "Sg",
    "Bh",
    "Hs",
    "Mt",
    "Ds",
    "Rg",
    "Cn",
    "Nh",
    "Fl",
    "Mc",
    "Lv",
    "Ts",
    "Og",
]
Z = {s: i + 1 for i, s in enumerate(ELEMENTS)}
BOHR_ANGSTROM = 0.52917721092  # PySCF's pyscf.lib.param.BOHR: 1 bohr in Å
UNITS = ("angstrom", "bohr")

FORMS = (
    "a built-in name (h2, lih, h2o, beh2, n2), [[symbol, x, y, z], ...], a PySCF atom string "
    "('Li 0 0 0; H 0 0 1.6'), an XYZ file (path or its text) or a Z-matrix ('O; H 1 0.96; H 1 0.96 2 104.5')"
)


def element(token, where: str) -> str:
    """A symbol ('li', 'Li', 'LI') or atomic number (3) as the canonical symbol; ValueError otherwise."""
    s = str(token).strip()
    if s.isdigit() and 1 <= int(s) <= len(ELEMENTS):
        return ELEMENTS[int(s) - 1]
    sym = s.capitalize()
    if sym not in Z:
        raise ValueError(f"{where}: element {token!r} unknown; use a chemical symbol (H ... Og) or an atomic number")
    return sym


def sto3g_orbitals(symbol: str) -> int | None:
    """Spatial orbitals of an atom in STO-3G (1s | 1s2s2p | 1s2s2p3s3p); None beyond Ar (ask PySCF)."""
    z = Z[symbol]
    return 1 if z <= 2 else (5 if z <= 10 else (9 if z <= 18 else None))


def core_orbitals(symbol: str) -> int:
    """Doubly occupied core orbitals frozen by ``freeze_core``, H-Ar (1s for Li-Ne, 1s2s2p for
    Na-Ar); heavier elements take PySCF's chemical core (``frozen_core``)."""
    z = Z[symbol]
    if z > 18:
        raise ValueError(f"core_orbitals: {symbol} is beyond Ar; its core comes from PySCF (frozen_core)")
    return 0 if z <= 2 else (1 if z <= 10 else 5)


def frozen_core(atoms, mol=None) -> int:
    """Core orbitals of ``freeze_core``: the table above for H-Ar, PySCF's chemical core
    (pyscf.data.elements.chemcore_atm, less the orbitals an ECP already removes) beyond."""
    total = 0
    for i, a in enumerate(atoms):
        z = Z[a[0]]
        if z <= 18:
            total += core_orbitals(a[0])
            continue
        from pyscf.data.elements import chemcore_atm

        ecp = (z - int(mol.atom_charge(i))) // 2 if mol is not None else 0
        total += max(0, chemcore_atm[z] - ecp)
    return total


def _floats(tokens, where: str) -> tuple[float, ...]:
    try:
        return tuple(float(t) for t in tokens)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: coordinates {list(tokens)!r} are not numbers") from None


def _lines(text: str) -> list[str]:
    return [ln.strip() for ln in re.split(r"[;\n]", text) if ln.strip() and not ln.strip().startswith("#")]


def _xyz(text: str) -> list[tuple[str, float, float, float]]:
    """XYZ text: count, comment, then 'symbol x y z' lines (Å by the format's convention)."""
    lines = text.splitlines()
    n = int(lines[0].split()[0])
    body = [ln for ln in lines[2:] if ln.strip()]
    if len(body) < n:
        raise ValueError(f"geometry: the XYZ text announces {n} atoms but has {len(body)} atom lines; fix the count")
    atoms = []
    for i, ln in enumerate(body[:n]):
        tok = ln.split()
        if len(tok) < 4:
            raise ValueError(f"geometry: XYZ atom line {i + 3}: {ln.strip()!r} is not 'symbol x y z'")
        atoms.append(
            (element(tok[0], f"geometry: XYZ atom line {i + 3}"), *_floats(tok[1:4], f"XYZ atom line {i + 3}"))
        )
    return atoms


def _zvalue(tok: str, variables: dict[str, float], where: str) -> float:
    neg = tok.startswith("-")
    name = tok[1:] if neg else tok
    if name in variables:
        return -variables[name] if neg else variables[name]
    try:
        return float(tok)
    except ValueError:
        raise ValueError(f"{where}: {tok!r} is neither a number nor a defined variable; add '{name} = value'") from None


def _zmatrix(lines: list[str], scale: float) -> list[tuple[str, float, float, float]]:
    """Z-matrix lines (references 1-based, angles in degrees) to Cartesian (distances x ``scale``)."""
    variables: dict[str, float] = {}
    rows = []
    for ln in lines:
        if "=" in ln:
            name, _, val = ln.partition("=")
            variables[name.strip()] = _floats([val.strip()], f"geometry: Z-matrix variable {name.strip()!r}")[0]
        else:
            rows.append(ln.split())
    pos: list[tuple[float, float, float]] = []
    atoms = []
    for i, tok in enumerate(rows):
        where = f"geometry: Z-matrix line {i + 1} ({' '.join(tok)!r})"
        if len(tok) != 1 + 2 * min(i, 3):
            raise ValueError(
                f"{where}: atom {i + 1} needs {min(i, 3)} reference(s): 'symbol' then 'ref distance', "
                "'ref angle', 'ref dihedral' (1-based references, degrees)"
            )
        sym = element(tok[0], where)
        refs = []
        for r in tok[1::2]:
            if not r.isdigit() or not 1 <= int(r) <= i:
                raise ValueError(f"{where}: reference {r!r} must be an earlier atom's number (1..{i})")
            refs.append(int(r) - 1)
        vals = [_zvalue(t, variables, where) for t in tok[2::2]]
        if i == 0:
            p = (0.0, 0.0, 0.0)
        elif i == 1:
            p = _add(pos[refs[0]], (0.0, 0.0, vals[0] * scale))
        else:
            a = pos[refs[1]]
            if i >= 3:
                c = pos[refs[2]]
            else:  # any point off the b-a line fixes the plane of the first three atoms
                along_x = abs(_unit(_sub(a, pos[refs[0]]))[0]) > 0.9
                c = _add(a, (0.0, 1.0, 0.0) if along_x else (1.0, 0.0, 0.0))
            p = _place(pos[refs[0]], a, c, vals[0] * scale, vals[1], vals[2] if i >= 3 else 0.0)
        pos.append(p)
        atoms.append((sym, *p))
    return atoms


def _sub(a, b):
    return (a[0] - b[0], a[1] - b[1], a[2] - b[2])


def _add(a, b):
    return (a[0] + b[0], a[1] + b[1], a[2] + b[2])


def _norm(a) -> float:
    return math.sqrt(a[0] ** 2 + a[1] ** 2 + a[2] ** 2)


def _cross(a, b):
    return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])


def _unit(a):
    n = _norm(a)
    if n < 1e-12:
        raise ValueError("geometry: Z-matrix reference atoms coincide or are collinear; fix the references")
    return (a[0] / n, a[1] / n, a[2] / n)


def _place(b, a, c, r: float, angle: float, dihedral: float):
    """Atom at distance r from b, angle(new, b, a) = angle, dihedral(new, b, a, c) = dihedral (deg)."""
    th, ph = math.radians(angle), math.radians(dihedral)
    bc = _unit(_sub(a, b))  # b -> a
    n = _unit(_cross(_sub(a, c), bc))
    m = _cross(n, bc)
    d = (r * math.cos(th), r * math.sin(th) * math.cos(ph), r * math.sin(th) * math.sin(ph))
    return tuple(b[k] + d[0] * bc[k] + d[1] * m[k] + d[2] * n[k] for k in range(3))


def looks_like_xyz_path(text: str) -> bool:
    return "\n" not in text and ";" not in text and text.strip().lower().endswith(".xyz")


def atoms_of(geometry, unit: str = "angstrom") -> list[tuple[str, float, float, float]]:
    """Any accepted geometry form (see the module) as [(symbol, x, y, z)] in Å; ValueError names
    the field and the fix."""
    if unit not in UNITS:
        raise ValueError(f"unit: {unit!r} unknown; use angstrom or bohr")
    scale = BOHR_ANGSTROM if unit == "bohr" else 1.0
    if isinstance(geometry, str):
        text = geometry.strip()
        key = text.lower()
        if key in BUILTIN:
            if unit != "angstrom":
                raise ValueError(f"unit: the built-in geometry {key!r} is in Å; remove unit or give coordinates")
            return BUILTIN[key]
        if looks_like_xyz_path(text):
            raise ValueError(
                f"geometry: {text} is an XYZ file that is not readable here; give its path relative to "
                "the study file (it is embedded) or paste its text"
            )
        lines = _lines(text)
        if not lines or (len(lines) == 1 and len(lines[0].split()) == 1 and not lines[0].split()[0].isalpha()):
            raise ValueError(f"unknown molecule {geometry!r}; give {FORMS}")
        if text.splitlines()[0].strip().isdigit():
            return [(s, x * scale, y * scale, z * scale) for s, x, y, z in _xyz(text)]
        first = lines[0].split()
        if len(first) == 1 and len(lines) == 1:
            raise ValueError(f"unknown molecule {geometry!r}; give {FORMS}")
        if len(first) == 1:
            atoms = _zmatrix(lines, scale)
        else:
            atoms = []
            for i, ln in enumerate(lines):
                tok = ln.split()
                where = f"geometry: atom {i + 1} ({ln!r})"
                if len(tok) != 4:
                    raise ValueError(f"{where} is not 'symbol x y z'; separate atoms with ';' or newlines")
                x, y, z = _floats(tok[1:], where)
                atoms.append((element(tok[0], where), x * scale, y * scale, z * scale))
    else:
        atoms = []
        for i, a in enumerate(geometry):
            if not (isinstance(a, (list, tuple)) and len(a) == 4 and isinstance(a[0], (str, int))):
                raise ValueError(
                    f"geometry: atom {i}: {a!r} is not [symbol, x, y, z]; write e.g. [O, 0.0, 0.0, 0.1173]"
                )
            xyz = _floats(a[1:], f"geometry: atom {i}")
            atoms.append((element(a[0], f"geometry: atom {i}"), *(c * scale for c in xyz)))
    if not atoms:
        raise ValueError(f"geometry has no atoms; give {FORMS}")
    return atoms


def formula(atoms) -> str:
    """Hill-order formula ('LiH', 'H2O' as 'H2O', 'N2'): a readable label for a custom geometry."""
    counts: dict[str, int] = {}
    for a in atoms:
        counts[a[0]] = counts.get(a[0], 0) + 1
    first = ["C", "H"] if "C" in counts else []
    order = first + sorted(k for k in counts if k not in first)
    return "".join(f"{s}{counts[s] if counts[s] > 1 else ''}" for s in order)


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


def missing_basis_error(basis: str, atoms, exc: Exception) -> ValueError:
    """PySCF could not build ``basis`` for these atoms: name the element(s) it lacks and the fix."""
    msg = str(exc)
    lacking = [s for s in dict.fromkeys(a[0] for a in atoms) if re.search(rf"\b{s}\b", msg)]
    if "not found" in msg.lower() and lacking:
        return ValueError(
            f"basis: {basis!r} has no functions for {', '.join(lacking)}; choose a basis that covers "
            f"{'them' if len(lacking) > 1 else lacking[0]} (e.g. def2-svp, cc-pvdz or a per-element basis), "
            "or check the element"
        )
    return ValueError(f"basis: {basis!r} is not usable ({msg}); use a PySCF basis name, e.g. sto-3g, 6-31g, cc-pvdz")


def pyscf_mole(atoms, basis: str, charge: int, spin: int):
    """pyscf.gto.Mole of Cartesian Å atoms; a missing basis becomes missing_basis_error."""
    try:
        from pyscf import gto
    except ImportError:
        raise ValueError(
            f"basis: {basis!r} for {formula(atoms)} needs PySCF to count orbitals here; install hpcq[worker] "
            "or use sto-3g with elements H-Ar"
        ) from None
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Basis may be available in basis-set-exchange"
            return gto.M(
                atom=[(s, (x, y, z)) for s, x, y, z in atoms],
                basis=basis,
                charge=charge,
                spin=spin,
                unit="Angstrom",
                verbose=0,
            )
    except RuntimeError as exc:
        if "spin" in str(exc).lower() or "electron" in str(exc).lower():
            raise ValueError(
                f"spin: {spin} does not fit {formula(atoms)} with charge {charge} ({exc}); fix spin or charge"
            ) from None
        raise missing_basis_error(basis, atoms, exc) from None
    except Exception as exc:  # noqa: BLE001 - PySCF raises assorted types for unknown bases
        raise missing_basis_error(basis, atoms, exc) from None


def molecule_size(
    geometry,
    basis: str,
    charge: int,
    spin: int,
    active_electrons: int | None,
    active_orbitals: int | None,
    freeze_core: bool,
    unit: str = "angstrom",
) -> tuple[int, int, tuple[int, int]]:
    """(ncore, ncas, (na, nb)) without running anything: STO-3G orbital counts of H-Ar are
    tabulated; other bases and elements ask PySCF (only the basis-set parser, no SCF)."""
    atoms = atoms_of(geometry, unit)
    n_el = sum(Z[a[0]] for a in atoms) - charge
    if n_el < 1:
        raise ValueError(f"charge: {charge} leaves {n_el} electrons; lower the charge")
    tab = [sto3g_orbitals(a[0]) for a in atoms]
    if basis.replace("-", "").lower() == "sto3g" and None not in tab:
        norb = sum(t for t in tab if t is not None)
        frozen = frozen_core(atoms) if freeze_core else 0
    else:
        if (n_el + spin) % 2:
            active_space(n_el, 1, spin, None, None, 0)  # the spin error, before PySCF's
        mol = pyscf_mole(atoms, basis, charge, spin)
        norb, n_el = int(mol.nao), int(mol.nelectron)  # ECPs remove electrons
        frozen = frozen_core(atoms, mol) if freeze_core else 0
    return active_space(n_el, norb, spin, active_electrons, active_orbitals, frozen)
