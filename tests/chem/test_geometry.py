"""Geometry as chemists write it (issue 25 item 1): PySCF atom strings, XYZ (file or text), Z-matrix,
unit bohr, any element PySCF has a basis for; each builds exactly the molecule of the list form."""

from __future__ import annotations

import numpy as np
import pytest

from hpcq.sim.chem import geometry as G
from hpcq.sim.chem.molecule import molecule_integrals
from hpcq.sim.spec import ProblemSpec, parse_sweep

BOHR = 0.52917721092
LIH = [["Li", 0.0, 0.0, 0.0], ["H", 0.0, 0.0, 1.6]]
N2 = [["N", 0.0, 0.0, 0.0], ["N", 0.0, 0.0, 1.0977]]


def _xyz(atoms, scale=1.0) -> str:
    body = "\n".join(f"{s} {x * scale:.12f} {y * scale:.12f} {z * scale:.12f}" for s, x, y, z in atoms)
    return f"{len(atoms)}\nwritten by a test\n{body}\n"


def _same_molecule(a, b, **kw) -> None:
    """Same atoms (1e-10 Å), same RHF energy and active-space integrals as PySCF builds them."""
    pa, pb = ProblemSpec(kind="molecule", **a, **kw), ProblemSpec(kind="molecule", **b, **kw)
    atoms_a, atoms_b = G.atoms_of(pa.geometry, pa.unit), G.atoms_of(pb.geometry, pb.unit)
    assert [x[0] for x in atoms_a] == [x[0] for x in atoms_b]
    assert np.allclose([x[1:] for x in atoms_a], [x[1:] for x in atoms_b], atol=1e-10, rtol=0)
    assert pa.qubits == pb.qubits and pa.electrons == pb.electrons
    ia, ib = (
        molecule_integrals(
            p.geometry,
            p.basis,
            active_electrons=p.active_electrons,
            active_orbitals=p.active_orbitals,
            freeze_core=p.freeze_core,
            unit=p.unit,
        )
        for p in (pa, pb)
    )
    assert ia.e_hf == pytest.approx(ib.e_hf, abs=1e-9)
    assert ia.ecore == pytest.approx(ib.ecore, abs=1e-9)
    assert np.allclose(np.abs(ia.h1), np.abs(ib.h1), atol=1e-8)  # MO signs are arbitrary


@pytest.mark.parametrize(
    "name, atoms, kw", [("lih", LIH, {"freeze_core": True}), ("n2", N2, {"active_electrons": 6, "active_orbitals": 6})]
)
def test_pyscf_string_xyz_and_bohr_build_the_list_form(tmp_path, name, atoms, kw):
    listed = {"geometry": atoms}
    pyscf_string = "; ".join(f"{s} {x} {y} {z}" for s, x, y, z in atoms)
    _same_molecule(listed, {"geometry": pyscf_string}, **kw)
    _same_molecule(listed, {"geometry": pyscf_string.replace("; ", "\n")}, **kw)  # newlines, as PySCF
    _same_molecule(listed, {"geometry": _xyz(atoms)}, **kw)  # XYZ text inline
    path = tmp_path / f"{name}.xyz"
    path.write_text(_xyz(atoms))
    _same_molecule(listed, {"geometry": str(path)}, **kw)  # XYZ file by path
    bohr = "; ".join(f"{s} {x / BOHR!r} {y / BOHR!r} {z / BOHR!r}" for s, x, y, z in atoms)
    _same_molecule(listed, {"geometry": bohr, "unit": "bohr"}, **kw)
    r = atoms[1][3]
    _same_molecule(listed, {"geometry": f"{atoms[0][0]}; {atoms[1][0]} 1 {r}"}, **kw)  # Z-matrix


def test_xyz_file_next_to_the_study_is_embedded(tmp_path):
    from hpcq.client.study import load_study

    (tmp_path / "lih.xyz").write_text(_xyz(LIH))
    (tmp_path / "s.yaml").write_text(
        "name: lihxyz\nsweep:\n  problems:\n    - {kind: molecule, geometry: lih.xyz, freeze_core: true}\n"
    )
    prob = load_study(str(tmp_path / "s.yaml")).params.problems[0]
    assert prob.geometry.startswith("2\n") and prob.qubits == 8  # the text travels, not the path
    (tmp_path / "t.yaml").write_text("name: t\nsweep:\n  problems:\n    - {kind: molecule, geometry: gone.xyz}\n")
    from hpcq.client.study import StudyError

    with pytest.raises(StudyError, match=r"sweep.problems\[0\].geometry: gone.xyz not found"):
        load_study(str(tmp_path / "t.yaml"))


def test_zmatrix_with_variables_and_dihedral_matches_pyscf():
    from pyscf.gto.mole import from_zmatrix

    z = "O\nO 1 1.45\nH 1 r 2 100\nH 2 r 1 100 3 dih\nr = 0.97\ndih = 120"
    ours = np.array([a[1:] for a in G.atoms_of(z)])
    theirs = np.array(
        [p for _, p in from_zmatrix("\n".join(z.replace("dih", "120").replace("r", "0.97").split("\n")[:4]))]
    )

    def dist(x):
        return np.linalg.norm(x[:, None] - x[None], axis=-1)

    assert np.allclose(dist(ours), dist(theirs), atol=1e-9)
    water = G.atoms_of("O; H 1 0.96; H 1 0.96 2 104.5")
    assert np.linalg.norm(np.subtract(water[1][1:], water[2][1:])) == pytest.approx(
        2 * 0.96 * np.sin(np.radians(104.5 / 2)), abs=1e-12
    )


def test_any_element_pyscf_has_a_basis_for_and_the_named_error_otherwise():
    # beyond H-Ar: K and Br (STO-3G counted by PySCF); the frozen core follows PySCF's chemical core
    assert (
        ProblemSpec(kind="molecule", geometry="K 0 0 0; H 0 0 2.24", active_electrons=2, active_orbitals=4).qubits == 6
    )
    kbr = ProblemSpec(kind="molecule", geometry="H 0 0 0; Br 0 0 1.41", freeze_core=True, basis="sto-3g")
    from pyscf.data.elements import chemcore_atm

    assert kbr.spatial_orbitals == 19 - chemcore_atm[35] == 10  # 18 Br + 1 H orbitals, Br's 1s2s2p3s3p frozen
    with pytest.raises(ValueError, match=r"basis: 'sto-3g' has no functions for U; choose a basis that covers U"):
        parse_sweep({"problems": [{"kind": "molecule", "geometry": "U 0 0 0; H 0 0 2.0", "spin": 1}]})
    with pytest.raises(ValueError, match=r"element 'Q' unknown"):
        parse_sweep({"problems": [{"kind": "molecule", "geometry": "H 0 0 0; Q 0 0 1"}]})
    with pytest.raises(ValueError, match=r"atom 1 \('Li 0 0'\) is not 'symbol x y z'"):
        parse_sweep({"problems": [{"kind": "molecule", "geometry": "Li 0 0; H 0 0 1.6"}]})
    with pytest.raises(ValueError, match=r"unit: the built-in geometry 'lih' is in Å"):
        parse_sweep({"problems": [{"kind": "molecule", "geometry": "lih", "unit": "bohr"}]})
    with pytest.raises(ValueError, match=r"unit apply to kind 'molecule' only"):
        parse_sweep({"problems": [{"kind": "tfim", "n_qubits": 4, "unit": "bohr"}]})


def test_new_fields_at_default_keep_task_ids():
    p = ProblemSpec(kind="molecule", geometry="lih")
    assert "unit" not in p.model_dump() and "reference" not in p.model_dump()
    assert ProblemSpec(kind="molecule", geometry="lih", unit="angstrom") == p
