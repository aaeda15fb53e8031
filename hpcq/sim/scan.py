"""Scans: one problem entry that varies a geometric coordinate becomes one concrete problem per
value (docs/studies.md "Scans"). Pure Python (no Qiskit, no PySCF): it runs when a study is loaded,
so the executor, the workflow steps and the worker only ever see ordinary problems, each carrying
its ``scan_point`` ({name, value, unit}) for the tables, the graph and the energy curve.

The forms of ``scan`` (one coordinate per entry; atom numbers are 1-based, as in a Z-matrix)::

    scan: {bond_length: [1.2, 1.6, 2.0]}                  # atoms 1-2 (a diatomic); kind h2 too
    scan: {bond_length: [...], atoms: [1, 3], move: [3, 4]}   # distance 1-3; atoms 3, 4 move along 1->3
    scan: {angle: [100, 104.5, 110], atoms: [2, 1, 3]}     # angle 2-1-3 (degrees), atom 3 (and move) turn
    scan: {r: [0.9, 1.0, 1.1]}                            # a variable of the Z-matrix geometry
    scan: {geometries: [g1, g2, g3], values: [0, 0.5, 1]}  # any geometry forms; values: the x axis
"""

from __future__ import annotations

import math
import re
from typing import Any

from hpcq.sim.chem import geometry as G

MAX_POINTS = 200
NAMED = ("bond_length", "angle", "geometries")
OPTIONS = ("atoms", "move", "values")
_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
UNIT_LABELS = {"angstrom": "Å", "bohr": "bohr", "degree": "°", "": ""}


class ScanError(ValueError):
    """A bad ``scan``: ``where`` is the field path (problems[0].scan.bond_length), ``str()`` the whole message."""

    def __init__(self, where: str, msg: str):
        super().__init__(f"{where}: {msg}")
        self.where, self.msg = where, msg


def expand(problems: Any) -> Any:
    """``problems`` (the sweep's list of dicts) with every entry that has ``scan`` replaced by one
    problem per value; anything else is returned as it is (validation names its faults)."""
    if not isinstance(problems, list) or not any(isinstance(p, dict) and "scan" in p for p in problems):
        return problems
    out: list[Any] = []
    for i, p in enumerate(problems):
        if isinstance(p, dict) and "scan" in p:
            out += points(p, f"problems[{i}].scan")
        else:
            out.append(p)
    return out


def points(problem: dict[str, Any], where: str) -> list[dict[str, Any]]:
    """The concrete problems of one scanning entry, in the order of its values."""
    scan = problem["scan"]
    if not isinstance(scan, dict):
        raise ScanError(where, "give a mapping, e.g. {bond_length: [1.2, 1.6, 2.0]} (docs/studies.md, Scans)")
    if "scan_point" in problem:
        raise ScanError(where, "scan_point is set by the scan itself; remove scan_point")
    coords = [k for k in scan if k not in OPTIONS]
    if len(coords) != 1:
        raise ScanError(
            where,
            f"give exactly one coordinate (bond_length, angle, geometries or a Z-matrix variable), got "
            f"{', '.join(coords) or 'none'}; write one scan per problem entry",
        )
    name = coords[0]
    base = {k: v for k, v in problem.items() if k != "scan"}
    kind = base.get("kind")
    if kind == "h2" and name == "bond_length":
        _no_options(scan, where, ())
        return [dict(base, bond_length=v, scan_point=_point(name, v, "angstrom")) for v in _values(scan, name, where)]
    if kind != "molecule":
        raise ScanError(
            where, f"scans vary a molecule's geometry (kind molecule, or bond_length of kind h2), not kind {kind!r}"
        )
    if name == "geometries":
        return _geometries(base, scan, where)
    unit = str(base.get("unit", "angstrom"))
    atoms = _atoms(base, where)
    if name == "bond_length":
        return _bonds(base, scan, atoms, unit, where)
    if name == "angle":
        return _angles(base, scan, atoms, where)
    return _variable(base, scan, name, where)


def _point(name: str, value: float, unit: str) -> dict[str, Any]:
    return {"name": name, "value": float(value), "unit": unit}


def _values(scan: dict[str, Any], key: str, where: str) -> list[float]:
    vals = scan[key]
    w = f"{where}.{key}"
    if not isinstance(vals, list) or not vals:
        raise ScanError(w, f"give a list of values, e.g. {key}: [1.2, 1.6, 2.0]")
    if len(vals) > MAX_POINTS:
        raise ScanError(w, f"{len(vals)} values; a scan has at most {MAX_POINTS} (split it into several entries)")
    bad = [v for v in vals if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)]
    if bad:
        raise ScanError(w, f"{bad[0]!r} is not a number; give numbers, e.g. [1.2, 1.6, 2.0]")
    if len(set(vals)) != len(vals):
        raise ScanError(w, "a value is listed twice; list each value once")
    return [float(v) for v in vals]


def _no_options(scan: dict[str, Any], where: str, allowed: tuple[str, ...]) -> None:
    extra = [k for k in OPTIONS if k in scan and k not in allowed]
    if extra:
        ok = f"it takes {', '.join(allowed)}" if allowed else "it takes no other key"
        raise ScanError(f"{where}.{extra[0]}", f"does not apply to this scan ({ok}); remove it")


def _atoms(base: dict[str, Any], where: str, gwhere: str = "") -> list[tuple[str, float, float, float]]:
    geo = base.get("geometry")
    if geo is None:
        raise ScanError(where, "the problem needs a geometry to scan; give geometry (docs/chemistry.md)")
    if isinstance(geo, str) and G.looks_like_xyz_path(geo):
        from pathlib import Path

        path = Path(geo.strip()).expanduser()
        if path.is_file():
            geo = path.read_text()
    try:
        return G.atoms_of(geo, str(base.get("unit", "angstrom")))
    except ValueError as exc:
        gwhere = gwhere or where.removesuffix(".scan") + ".geometry"
        raise ScanError(gwhere, str(exc).removeprefix("geometry: ")) from None


def _indices(scan: dict[str, Any], key: str, n: int, count: int, default: list[int] | None, where: str) -> list[int]:
    """1-based atom numbers of ``scan[key]`` (``count`` of them, or any number for ``move``) as 0-based."""
    raw = scan.get(key, default)
    example = {2: "[1, 2]", 3: "[2, 1, 3]"}.get(count, "[3, 4]")
    if raw is None:
        raise ScanError(
            f"{where}.{key}", f"the molecule has {n} atoms: say which with {key}: {example} (1-based atom numbers)"
        )
    ok = isinstance(raw, list) and all(isinstance(a, int) and not isinstance(a, bool) for a in raw)
    if not ok or (count and len(raw) != count) or not raw:
        raise ScanError(f"{where}.{key}", f"give {count or 'some'} atom numbers, e.g. {key}: {example}")
    bad = [a for a in raw if not 1 <= a <= n]
    if bad or len(set(raw)) != len(raw):
        raise ScanError(f"{where}.{key}", f"{raw}: use distinct atom numbers 1..{n} (1-based)")
    return [a - 1 for a in raw]


def _concrete(base: dict[str, Any], atoms, point: dict[str, Any]) -> dict[str, Any]:
    """The problem at one point: Cartesian geometry in Å (the unit was applied when reading)."""
    out = {k: v for k, v in base.items() if k != "unit"}
    out["geometry"] = [[s, round(x, 12), round(y, 12), round(z, 12)] for s, x, y, z in atoms]
    out["scan_point"] = point
    return out


def _bonds(base, scan, atoms, unit: str, where: str) -> list[dict[str, Any]]:
    _no_options(scan, where, ("atoms", "move"))
    default = [1, 2] if len(atoms) == 2 else None
    i, j = _indices(scan, "atoms", len(atoms), 2, default, where)
    move = _indices(scan, "move", len(atoms), 0, [j + 1], where)
    if i in move or j not in move:
        raise ScanError(f"{where}.move", f"must list atom {j + 1} and not atom {i + 1} (the fixed end of the bond)")
    axis = G._unit(G._sub(atoms[j][1:], atoms[i][1:]))
    scale = G.BOHR_ANGSTROM if unit == "bohr" else 1.0
    out = []
    for v in _values(scan, "bond_length", where):
        if v <= 0:
            raise ScanError(f"{where}.bond_length", f"{v} is not a length; give values > 0 ({unit})")
        shift = [(v * scale - G._norm(G._sub(atoms[j][1:], atoms[i][1:]))) * c for c in axis]
        moved = [(a[0], *G._add(a[1:], shift)) if k in move else a for k, a in enumerate(atoms)]
        out.append(_concrete(base, moved, _point("bond_length", v, unit)))
    return out


def _angles(base, scan, atoms, where: str) -> list[dict[str, Any]]:
    """Angle i-j-k (vertex j): atom k and ``move`` turn about j in the plane of i, j, k."""
    _no_options(scan, where, ("atoms", "move"))
    if len(atoms) < 3:
        raise ScanError(f"{where}.angle", f"the molecule has {len(atoms)} atoms; an angle needs three")
    i, j, k = _indices(scan, "atoms", len(atoms), 3, None, where)
    move = _indices(scan, "move", len(atoms), 0, [k + 1], where)
    if i in move or j in move or k not in move:
        raise ScanError(f"{where}.move", f"must list atom {k + 1} and neither {i + 1} nor {j + 1}")
    u = G._unit(G._sub(atoms[i][1:], atoms[j][1:]))
    w = G._sub(atoms[k][1:], atoms[j][1:])
    try:
        n = G._unit(G._cross(u, w))
    except ValueError:
        raise ScanError(f"{where}.atoms", "the three atoms are collinear: no plane for the angle") from None
    now = math.degrees(math.acos(max(-1.0, min(1.0, sum(a * b for a, b in zip(u, G._unit(w), strict=True))))))
    out = []
    for v in _values(scan, "angle", where):
        if not 0 < v < 180:
            raise ScanError(f"{where}.angle", f"{v} is not an angle between atoms; give degrees in (0, 180)")
        rot = math.radians(v - now)
        moved = [
            (a[0], *G._add(atoms[j][1:], _rotate(G._sub(a[1:], atoms[j][1:]), n, rot))) if m in move else a
            for m, a in enumerate(atoms)
        ]
        out.append(_concrete(base, moved, _point("angle", v, "degree")))
    return out


def _rotate(v, axis, theta: float):
    """Rodrigues: ``v`` turned by ``theta`` about the unit ``axis``."""
    c, s = math.cos(theta), math.sin(theta)
    cross = G._cross(axis, v)
    dot = sum(a * b for a, b in zip(axis, v, strict=True))
    return tuple(v[q] * c + cross[q] * s + axis[q] * dot * (1 - c) for q in range(3))


def _variable(base, scan, name: str, where: str) -> list[dict[str, Any]]:
    """A Z-matrix variable: its definition line is replaced by ``name = value`` at each point."""
    geo = base.get("geometry")
    lines = [ln.strip() for ln in re.split(r"[;\n]", geo)] if isinstance(geo, str) else []
    rows = [ln for ln in lines if ln and "=" not in ln and not ln.startswith("#")]
    is_zmatrix = bool(rows) and len(rows[0].split()) == 1
    used = {t.lstrip("-") for ln in rows[1:] for t in ln.split()[2::2]} if is_zmatrix else set()
    if not _VARIABLE.match(name) or name not in used:
        known = ", ".join(sorted(v for v in used if _VARIABLE.match(v)))
        fix = f"this Z-matrix's variables: {known}" if known else "the geometry is no Z-matrix with variables"
        raise ScanError(
            f"{where}.{name}",
            f"unknown coordinate; use bond_length, angle, geometries or a Z-matrix variable ({fix}; docs/studies.md)",
        )
    _no_options(scan, where, ())
    angle = any(name in [t.lstrip("-") for t in ln.split()[4::2]] for ln in rows[2:])
    unit = "degree" if angle else str(base.get("unit", "angstrom"))
    keep = [ln for ln in lines if ln and not (("=" in ln) and ln.partition("=")[0].strip() == name)]
    out = []
    for v in _values(scan, name, where):
        point = dict(base, geometry="\n".join([*keep, f"{name} = {v!r}"]), scan_point=_point(name, v, unit))
        _atoms(point, where, f"{where}.{name}")  # the Z-matrix builds at this value (else: the field and the fix)
        out.append(point)
    return out


def _geometries(base, scan, where: str) -> list[dict[str, Any]]:
    _no_options(scan, where, ("values",))
    geos = scan["geometries"]
    if not isinstance(geos, list) or not geos:
        raise ScanError(f"{where}.geometries", "give a list of geometries (any form of docs/chemistry.md)")
    if len(geos) > MAX_POINTS:
        raise ScanError(f"{where}.geometries", f"{len(geos)} geometries; a scan has at most {MAX_POINTS}")
    values = _values(scan, "values", where) if "values" in scan else [float(n + 1) for n in range(len(geos))]
    if len(values) != len(geos):
        raise ScanError(f"{where}.values", f"{len(values)} values for {len(geos)} geometries; give one per geometry")
    out = []
    for n, (g, v) in enumerate(zip(geos, values, strict=True)):
        point = dict(base, geometry=g, scan_point=_point("geometry", v, ""))
        _atoms(point, where, f"{where}.geometries[{n}]")
        out.append(point)
    return out


def label(point: dict[str, Any] | None) -> str:
    """'bond_length=1.6 Å' (empty without a point): the one spelling of a scan point in tables,
    graph nodes and progress lines."""
    if not point:
        return ""
    unit = UNIT_LABELS.get(point.get("unit", ""), point.get("unit", ""))
    sep = "" if unit == "°" else " "
    return f"{point['name']}={point['value']:g}{sep + unit if unit else ''}"


def slug(point: dict[str, Any] | None) -> str:
    """'bond_length_1.6': a scan point as it may appear in task ids and node names."""
    if not point:
        return ""
    return re.sub(r"[^A-Za-z0-9._-]", "_", f"{point['name']}_{point['value']:g}")
