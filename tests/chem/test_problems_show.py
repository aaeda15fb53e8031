"""`hpcq problems show` on the shipped water study: its reference is PySCF's CASCI to 1e-8 Ha."""

import json
from importlib.resources import files

from click.testing import CliRunner

from hpcq.cli import main
from hpcq.sim.chem.molecule import casci_energy, molecule_integrals

WATER_STUDY = str(files("hpcq.client") / "studies" / "water.yaml")


def test_problems_show_water_json_matches_pyscf_casci():
    res = CliRunner().invoke(main, ["problems", "show", WATER_STUDY, "--json"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    (p,) = doc["problems"]
    casci = casci_energy(molecule_integrals("h2o", "sto-3g", 0, 0, 4, 4, False))
    assert abs(p["exact_energy"] - casci) < 1e-8
    assert p["qubits"] == 8 and p["pauli_terms"] == 105 and p["electrons"] == [2, 2]
    assert abs(p["hf_energy"] - -74.96302313846) < 1e-8
    uccsd = next(a for a in p["ansatze"] if a["kind"] == "uccsd")
    assert uccsd["n_params"] == 26 and uccsd["two_qubit_gates"] > 100


def test_problems_show_table_and_bad_study(tmp_path):
    res = CliRunner().invoke(main, ["problems", "show", WATER_STUDY])
    assert res.exit_code == 0 and "CASCI" in res.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: b\nsweep:\n  problems: [{kind: molecule, geometry: h2o, active_electrons: 3}]\n")
    res = CliRunner().invoke(main, ["problems", "show", str(bad)])
    assert res.exit_code != 0 and "active_electrons" in res.output
