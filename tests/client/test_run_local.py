"""`hpcq run STUDY.yaml` of a sweep study: on this machine through the real MPI worker under
mpiexec; 1 and 2 ranks give the same energies, and `hpcq results ls` reads the files. (A workflow
study runs as its DAG: tests/workflow/test_water_e2e.py compares it with the cluster run.)"""

import re
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import hpcq.results
from hpcq.cli import main
from hpcq.testing import need

MPIEXEC = Path(sys.executable).parent / "mpiexec"
STUDY = """\
name: local-run
mode: single
sweep:
  problems:
    - {kind: tfim, n_qubits: 3}
    - {kind: h2, bond_length: 0.735}
  ansatze:
    - {kind: real_amplitudes, reps: 1}
  optimizers:
    - {kind: cobyla, maxiter: 20}
  seeds: [3]
"""


@pytest.fixture
def study_file(tmp_path):
    p = tmp_path / "study.yaml"
    p.write_text(STUDY)
    return p


def _run(*args):
    return CliRunner().invoke(main, ["run", *map(str, args)], catch_exceptions=False)


def _energies(out: Path) -> dict:
    (path,) = out.glob("*.h5")
    assert hpcq.results.validate(path) == []
    df = hpcq.results.open(path)
    return dict(zip(df.task_id, df.energy, strict=True))


@pytest.mark.mpi
def test_one_and_two_ranks_same_energies_and_results_ls(study_file, tmp_path):
    need(MPIEXEC.exists(), f"{MPIEXEC} missing (pip install mpich)")
    runs = {}
    for n in (1, 2):
        out = tmp_path / f"r{n}"
        r = _run(study_file, "--ranks", n, "--results", out, "--quiet")
        assert r.exit_code == 0, r.output
        assert re.search(rf"results: .*{re.escape(str(out))}/local-run-.*\.h5", r.output)
        assert f"2 task(s) on {n} rank(s)" in r.output
        runs[n] = _energies(out)
    assert len(runs[1]) == 2 and runs[1] == runs[2]  # bit for bit, every task
    ls = _run_results_ls(tmp_path / "r2")
    assert ls.exit_code == 0, ls.output
    assert "2 runs" in ls.output and "tfim" in ls.output and "h2" in ls.output


def _run_results_ls(out: Path):
    return CliRunner().invoke(main, ["results", "ls", "--results", str(out)], catch_exceptions=False)


def test_bad_study_names_the_field(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text(STUDY.replace("n_qubits: 3", "n_qubits: 3, colour: red"))
    r = _run(p, "--results", tmp_path / "out")
    assert r.exit_code != 0
    assert "sweep.problems[0]" in r.output and "colour" in r.output
    assert not (tmp_path / "out").exists()  # nothing ran


def test_missing_mpiexec_says_what_to_install(study_file, tmp_path, monkeypatch):
    monkeypatch.setenv("HPCQ_MPIEXEC", str(tmp_path / "no-such-mpiexec"))
    r = _run(study_file, "--results", tmp_path / "out")
    assert r.exit_code != 0
    assert "mpiexec not found" in r.output and "pip install mpich" in r.output


def test_refused_with_the_numbers_when_it_does_not_fit_this_machine():
    import click
    import yaml

    from hpcq.client.run_local import check_fits
    from hpcq.client.study import parse_study

    data = yaml.safe_load(STUDY)
    data["sweep"]["problems"] = [{"kind": "tfim", "n_qubits": 30}]
    data["sweep"]["method"] = "statevector"
    params = parse_study(data).params
    with pytest.raises(click.ClickException, match=r"per rank x 2 rank\(s\).*available.*at most \d+ qubits"):
        check_fits(params, 2, 8 * 2**30)  # 30 qubits: 16 GiB state, not in 8 GiB
    assert check_fits(params, 1, 64 * 2**30) > 16 * 2**30
