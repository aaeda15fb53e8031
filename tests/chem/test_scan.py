"""Scans (issue 25 item 2): one problem entry varies a bond length, an angle, a Z-matrix variable or
a list of geometries; each point is an ordinary problem with its scan_point, told apart in task
ids, `problems show`, `results ls` (-c takes any problem parameter) and the graph; every point's
exact reference equals PySCF CASCI computed here to 1e-8 Ha."""

from __future__ import annotations

import io
import json
import math

import h5py
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from hpcq.cli import main
from hpcq.client.study import StudyError, load_study, parse_study
from hpcq.results.catalog import Catalog, default_db
from hpcq.sim.chem.geometry import atoms_of
from hpcq.testing.studies import run_in_process, trimmed_lih_curve

LIH_R = [1.2, 1.6, 2.0, 2.4, 3.0]
N2_R = [0.9, 1.0977, 1.3, 1.6, 2.0]


def _study(problem, **sweep):
    return {"name": "scan", "mode": "sweep", "sweep": {"problems": [problem], **sweep}}


def _dist(a, b):
    return math.dist(a[1:], b[1:])


def _angle(a, vertex, c):
    u = [p - q for p, q in zip(a[1:], vertex[1:], strict=True)]
    w = [p - q for p, q in zip(c[1:], vertex[1:], strict=True)]
    cos = sum(x * y for x, y in zip(u, w, strict=True)) / math.hypot(*u) / math.hypot(*w)
    return math.degrees(math.acos(cos))


def test_a_bond_scan_is_one_problem_per_length_each_with_its_point():
    s = parse_study(_study({"kind": "molecule", "geometry": "Li 0 0 0; H 0 0 1.6", "scan": {"bond_length": LIH_R}}))
    probs = s.params.problems
    assert [p.scan_point.value for p in probs] == LIH_R
    assert all(p.scan_point.name == "bond_length" and p.scan_point.unit == "angstrom" for p in probs)
    assert [round(_dist(*atoms_of(p.geometry)), 12) for p in probs] == LIH_R
    # the process kwargs carry the expanded problems: the executor and worker see no scan
    assert len(s.sweep["problems"]) == 5 and not any("scan" in p for p in s.sweep["problems"])
    ids = [t.task_id for t in s.params.tasks()]
    assert ids[0].startswith("molecule-bond_length_1.2-none-s0-") and len(set(ids)) == 5


def test_bohr_a_chosen_bond_and_atoms_that_move_with_it():
    # water: stretch O-H2 (atoms 1, 3) in bohr; H2 alone moves, the other O-H stays
    geo = [["O", 0, 0, 0.1173], ["H", 0, 0.7572, -0.4692], ["H", 0, -0.7572, -0.4692]]
    s = parse_study(
        _study(
            {"kind": "molecule", "geometry": geo, "unit": "bohr", "scan": {"bond_length": [2.0, 3.0], "atoms": [1, 3]}}
        )
    )
    for p, r in zip(s.params.problems, [2.0, 3.0], strict=True):
        atoms = atoms_of(p.geometry)
        assert _dist(atoms[0], atoms[2]) == pytest.approx(r * 0.52917721092, abs=1e-10)
        assert _dist(atoms[0], atoms[1]) == pytest.approx(_dist(*atoms_of(geo, "bohr")[:2]), abs=1e-10)
        assert p.scan_point.unit == "bohr"


def test_an_angle_and_a_zmatrix_variable_build_the_same_water():
    ang = parse_study(
        _study({"kind": "molecule", "geometry": "h2o", "scan": {"angle": [95.0, 104.5, 120.0], "atoms": [2, 1, 3]}})
    )
    for p, a in zip(ang.params.problems, [95.0, 104.5, 120.0], strict=True):
        atoms = atoms_of(p.geometry)
        assert _angle(atoms[1], atoms[0], atoms[2]) == pytest.approx(a, abs=1e-9)
    zm = parse_study(
        _study({"kind": "molecule", "geometry": "O; H 1 r; H 1 r 2 a; r = 0.96; a = 104.5", "scan": {"r": [0.9, 1.1]}})
    )
    for p, r in zip(zm.params.problems, [0.9, 1.1], strict=True):
        atoms = atoms_of(p.geometry)
        assert _dist(atoms[0], atoms[1]) == pytest.approx(r) and _dist(atoms[0], atoms[2]) == pytest.approx(r)
        assert _angle(atoms[1], atoms[0], atoms[2]) == pytest.approx(104.5)
        assert (p.scan_point.name, p.scan_point.unit) == ("r", "angstrom")
    a = parse_study(
        _study({"kind": "molecule", "geometry": "O; H 1 r; H 1 r 2 a; r = 0.96; a = 104.5", "scan": {"a": [100]}})
    )
    assert a.params.problems[0].scan_point.unit == "degree"


def test_a_list_of_geometries_with_xyz_files_next_to_the_study(tmp_path):
    for i, z in enumerate([0.7, 0.9]):
        (tmp_path / f"h2-{i}.xyz").write_text(f"2\nH2\nH 0 0 0\nH 0 0 {z}\n")
    (tmp_path / "s.yaml").write_text(
        yaml.safe_dump(
            _study(
                {
                    "kind": "molecule",
                    "geometry": "h2",
                    "scan": {"geometries": ["h2-0.xyz", "h2-1.xyz"], "values": [0.7, 0.9]},
                }
            )
        )
    )
    s = load_study(tmp_path / "s.yaml")
    assert [round(_dist(*atoms_of(p.geometry)), 12) for p in s.params.problems] == [0.7, 0.9]
    assert [p.scan_point.value for p in s.params.problems] == [0.7, 0.9]


@pytest.mark.parametrize(
    "scan, problem, expected",
    [
        ({"bond_length": [1.0, "x"]}, {}, "sweep.problems[0].scan.bond_length: 'x' is not a number"),
        ({"bond_length": [1.0, 1.0]}, {}, "a value is listed twice"),
        ({"bond_length": [1.0], "angle": [90.0]}, {}, "give exactly one coordinate"),
        ({"bond_length": [1.0]}, {"geometry": "h2o"}, "scan.atoms: the molecule has 3 atoms: say which with atoms"),
        ({"bond_length": [-1.0]}, {}, "scan.bond_length: -1.0 is not a length"),
        ({"angle": [90.0]}, {}, "scan.angle: the molecule has 2 atoms; an angle needs three"),
        ({"angle": [90.0], "atoms": [2, 1, 4]}, {"geometry": "h2o"}, "use distinct atom numbers 1..3"),
        ({"zz": [1.0]}, {}, "scan.zz: unknown coordinate; use bond_length, angle, geometries or a Z-matrix variable"),
        ({"q": [1.0]}, {"geometry": "O; H 1 r; H 1 r 2 a; r=1; a=104"}, "this Z-matrix's variables: a, r"),
        ({"geometries": ["h2"], "values": [1, 2]}, {}, "scan.values: 2 values for 1 geometries"),
        ({"bond_length": [1.0], "values": [1]}, {}, "scan.values: does not apply to this scan"),
        ([1, 2], {}, "sweep.problems[0].scan: give a mapping"),
    ],
)
def test_bad_scans_name_the_field_and_the_fix(scan, problem, expected):
    entry = {"kind": "molecule", "geometry": "Li 0 0 0; H 0 0 1.6", **problem, "scan": scan}
    with pytest.raises(StudyError) as err:
        parse_study(_study(entry))
    assert expected in str(err.value), str(err.value)


def test_a_spin_chain_cannot_be_scanned():
    with pytest.raises(StudyError, match=r"problems\[0\]\.scan: scans vary a molecule's geometry"):
        parse_study(_study({"kind": "tfim", "n_qubits": 4, "scan": {"bond_length": [1.0]}}))


def _casci(atoms, ncas, nelecas):
    from pyscf import gto, mcscf, scf

    mol = gto.M(atom=[(s, (x, y, z)) for s, x, y, z in atoms], basis="sto-3g", unit="Angstrom", verbose=0)
    mf = scf.RHF(mol)
    mf.conv_tol = 1e-12
    mf.kernel()
    return float(mcscf.CASCI(mf, ncas, nelecas).kernel()[0])


def _runs(folder):
    cat = Catalog(default_db(folder))
    cat.index(folder)
    return cat.runs()


@pytest.fixture(scope="module")
def curves(tmp_path_factory):
    """LiH (a PySCF atom string, the shipped lih-curve study trimmed) and N2 (an XYZ file), run in process."""
    d = tmp_path_factory.mktemp("curves")
    lih = d / "lih.yaml"
    lih.write_text(yaml.safe_dump(trimmed_lih_curve("lih-curve")))
    (d / "n2.xyz").write_text("2\nN2 at equilibrium\nN 0.0 0.0 0.0\nN 0.0 0.0 1.0977\n")
    n2 = d / "n2.yaml"
    n2.write_text(
        yaml.safe_dump(
            {
                "name": "n2-curve",
                "mode": "sweep",
                "sweep": {
                    "problems": [
                        {
                            "kind": "molecule",
                            "geometry": "n2.xyz",
                            "active_electrons": 6,
                            "active_orbitals": 6,
                            "mapping": "parity",
                            "scan": {"bond_length": N2_R},
                        }
                    ],
                    "ansatze": [{"kind": "real_amplitudes", "reps": 1}],
                    "optimizers": [{"kind": "cobyla", "maxiter": 3}],
                    "method": "statevector",
                },
            }
        )
    )
    out = d / "results"
    for f in (lih, n2):
        study = load_study(f)
        run_in_process(study, out / study.name)
    return {"dir": d, "results": out, "lih": lih, "n2": n2}


def test_lih_and_n2_curves_exact_references_equal_pyscf_casci(curves):
    runs = _runs(curves["results"])
    for study, radii, (ncas, nelecas), n_runs in (("lih-curve", LIH_R, (3, 2), 10), ("n2-curve", N2_R, (6, 6), 5)):
        mine = runs[runs["study"] == study]
        assert len(mine) == n_runs
        for r in radii:
            at = mine[mine["task_id"].str.contains(f"-bond_length_{r:g}-")]
            assert len(at) == n_runs // len(radii), (study, r)
            geo = json.loads(at["problem_params"].iloc[0])["geometry"]
            assert math.dist(geo[0][1:], geo[1][1:]) == pytest.approx(r, abs=1e-12)
            ref = _casci(geo, ncas, nelecas)
            for e in at["exact_energy"]:
                assert abs(e - ref) < 1e-8, (study, r, e, ref)
                assert e <= min(at["energy"]) + 1e-9  # variational
    # the HDF5 task attributes name the point (hpcq.results.h5format.SCAN_*)
    (path,) = (curves["results"] / "n2-curve").rglob("*.h5")
    with h5py.File(path) as f:
        points = sorted(float(g.attrs["scan_value"]) for g in f["tasks"].values())
        assert points == N2_R and {g.attrs["scan_name"] for g in f["tasks"].values()} == {"bond_length"}


def test_results_ls_shows_the_bond_length_and_takes_any_problem_parameter(curves):
    lih_dir = str(curves["results"] / "lih-curve")
    r = CliRunner().invoke(
        main,
        ["results", "ls", "--results", lih_dir, "--step", "vqe"],
        env={"COLUMNS": "120"},
    )
    assert r.exit_code == 0, r.output
    header = next(ln for ln in r.output.splitlines() if "task_id" in ln)
    assert "bond_length" in header
    for v in ("1.2", "1.6", "2 ", "2.4", "3 "):
        assert any(f" {v}" in ln and "molecule" in ln for ln in r.output.splitlines()), v
    r = CliRunner().invoke(
        main,
        [
            "results",
            "ls",
            "--results",
            str(curves["results"]),
            "-c",
            "study,bond_length,geometry,basis,active_orbitals",
            "--csv",
        ],
    )
    assert r.exit_code == 0, r.output
    df = pd.read_csv(io.StringIO(r.output))  # --csv: every column, the asked ones included
    assert len(df) == 15 and {"bond_length", "geometry", "basis", "active_orbitals"} <= set(df.columns)
    lih = df[df["study"] == "lih-curve"].set_index("bond_length")
    assert lih.loc[3.0, "geometry"].tolist() == ["Li 0 0 0; H 0 0 3"] * 2
    assert set(df["basis"]) == {"sto-3g"} and set(df["active_orbitals"]) == {3, 6}
    r = CliRunner().invoke(
        main, ["results", "ls", "-r", lih_dir, "-c", "bond_length,geometry,basis"], env={"COLUMNS": "100"}
    )
    assert r.exit_code == 0 and "Li 0 0 0; H 0 0 2.4" in r.output, r.output
    r = CliRunner().invoke(main, ["results", "ls", "--results", str(curves["results"]), "-c", "geometri"])
    assert r.exit_code != 0 and "problem parameters: " in r.output and "geometry" in r.output


def test_rank_keeps_the_bond_length_column(curves):
    r = CliRunner().invoke(
        main,
        ["results", "rank", "--results", str(curves["results"] / "lih-curve"), "--by", "abs_error:min"],
        env={"COLUMNS": "160"},
    )
    assert r.exit_code == 0, r.output
    assert "bond_length" in next(ln for ln in r.output.splitlines() if "position" in ln)


def test_problems_show_labels_each_point_and_never_cuts_numbers(curves):
    r = CliRunner().invoke(main, ["problems", "show", str(curves["lih"])], env={"COLUMNS": "80"})
    assert r.exit_code == 0, r.output
    for v in LIH_R:
        assert sum(f"bond_length={v:g} Å" in ln for ln in r.output.splitlines()) == 1, (v, r.output)
    exact = json.loads(CliRunner().invoke(main, ["problems", "show", str(curves["lih"]), "--json"]).output)
    for p in exact["problems"]:
        assert f"{p['exact_energy']:.8f}" in r.output  # whole, on one line, though wider than 80 columns
        assert p["scan_label"].startswith("bond_length=")


def test_graph_nodes_tell_the_points_apart(curves):
    from hpcq.results.catalog import with_problem_params
    from hpcq.results.graph import build_graph

    runs, _ = with_problem_params(_runs(curves["results"] / "lih-curve"))
    g = build_graph(runs)
    labels = sorted(d["label"] for _, d in g.nodes(data=True) if d["type"] == "problem")
    assert labels == sorted(f"molecule bond_length={r:g} (4q)" for r in LIH_R)
