import io
import json
import os
import shutil
import subprocess
import sys
import time

import pandas as pd
import pytest
from click.testing import CliRunner

from hpcq.cli import main
from hpcq.results import records
from hpcq.results.catalog import Catalog, default_db
from hpcq.testing.synthetic import make_study


def run(*args):
    res = CliRunner().invoke(main, ["results", *map(str, args)], catch_exceptions=False)
    return res


def test_index_then_incremental_index(study):
    res = run("index", study)
    assert res.exit_code == 0, res.output
    assert "12 added" in res.output and str(default_db(study)) in res.output
    res = run("index", study)
    assert "12 unchanged" in res.output and "0 added" in res.output


def test_index_custom_db_and_missing_folder(study, tmp_path):
    db = tmp_path / "cat.sqlite"
    assert run("index", study, "--db", db).exit_code == 0
    assert len(Catalog(db).runs()) == 48
    res = run("index", tmp_path / "nope")
    assert res.exit_code != 0


def test_ls_lists_runs_and_filters(study):
    res = run("ls", "--results", study, "--step", "vqe", "-c", "task_id,step", "-n", "0")
    assert res.exit_code == 0, res.output
    assert "12 runs" in res.output and "noise" not in res.output.replace("noise-study", "")
    res = run("ls", "-r", study, "-c", "bogus")
    assert res.exit_code != 0 and "--columns" in res.output and "abs_error" in res.output


def test_ls_without_a_catalog_says_how(monkeypatch, tmp_path):
    monkeypatch.delenv("HPCQ_RESULTS_DIR", raising=False)
    monkeypatch.setenv("HPCQ_CONFIG_DIR", str(tmp_path))  # no submissions recorded
    res = run("ls")
    assert res.exit_code != 0 and "--results DIR" in res.output


def test_rank_json_save_and_export_with_ranking(study, tmp_path):
    res = run(
        "rank",
        "-r",
        study,
        "--by",
        "energy_error:min",
        "--by",
        "jsd:min",
        "--weights",
        "0.7,0.3",
        "--top",
        "5",
        "--save",
        "best",
        "--json",
    )
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output[res.output.index("[") : res.output.rindex("]") + 1])
    assert [r["position"] for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0]["score"] <= rows[-1]["score"]
    definition, ranks = Catalog(default_db(study)).ranking("best")
    assert definition["by"] == [{"metric": "abs_error", "direction": "min"}, {"metric": "jsd", "direction": "min"}]
    assert len(ranks) == 36 and list(ranks["task_id"][:5]) == [r["task_id"] for r in rows]

    out = tmp_path / "noise.parquet"
    res = run("export", "-r", study, "--format", "parquet", "-o", out, "--view", "noise", "--ranking", "best")
    assert res.exit_code == 0, res.output
    df = pd.read_parquet(out)
    assert len(df) == 36 and list(df["position"][:5]) == [1, 2, 3, 4, 5]
    assert "vqe_abs_error" in df

    out = tmp_path / "runs.csv"
    assert run("export", "--db", default_db(study), "-o", out).exit_code == 0
    assert len(pd.read_csv(out)) == 48

    res = run("ls", "--db", default_db(study), "--rankings")
    assert "best" in res.output


def test_rank_bad_input_is_a_clear_error(study):
    res = run("rank", "-r", study, "--by", "abs_error:up")
    assert res.exit_code != 0 and "'min' or 'max'" in res.output
    res = run("rank", "-r", study, "--by", "nope")
    assert res.exit_code != 0 and "no such metric" in res.output
    res = run("export", "-r", study, "-o", "/dev/null", "--ranking", "missing")
    assert res.exit_code != 0 and "no ranking named 'missing'" in res.output


def test_lexicographic_vqe_ranking(study):
    res = run(
        "rank",
        "-r",
        study,
        "--step",
        "vqe",
        "--mode",
        "lexicographic",
        "--by",
        "chemical_accuracy:max",
        "--by",
        "abs_error:min",
        "--top",
        "0",
        "--json",
    )
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert len(rows) == 12
    errs = [r["abs_error"] for r in rows]
    assert rows[0]["position"] == 1 and errs == sorted(errs)  # synthetic: accuracy <=> low error


BONDS = [0.5, 0.735, 1.0, 1.5, 2.0]


@pytest.fixture
def h2_scan(tmp_path):
    """A five-point H2 bond scan, as the issue-15 user ran it."""
    d = tmp_path / "h2-scan"
    make_study(d, n_workflows=5, study="h2-scan", problems=["h2"], payload="attrs", scan=("bond_length", BONDS))
    return d


def lines_of(res):
    return [line for line in res.output.splitlines() if line.strip()]


def test_rank_and_ls_fit_80_columns_and_show_the_bond_length(h2_scan, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    for args in (
        ["rank", "-r", h2_scan, "--step", "vqe", "--by", "abs_error:min", "--top", "0"],
        ["ls", "-r", h2_scan, "--step", "vqe", "-n", "0"],
        ["ls", "-r", h2_scan, "-n", "0"],
        ["rank", "-r", h2_scan, "--by", "energy_error:min", "--by", "jsd:min"],
    ):
        res = run(*args)
        assert res.exit_code == 0, res.output
        widths = [len(line) for line in lines_of(res)]
        assert max(widths) <= 80, (args, max(widths), res.output)
        assert "bond_length" in res.output
        if args[0] == "rank" and "vqe" in args:
            # one row per vqe run: 5 workflows x 2 optimizers, each row on one line with its bond
            for b in BONDS:
                assert any(f" {b:g} " in line for line in lines_of(res)), (b, res.output)


def test_rank_and_ls_json_and_csv_have_every_column(h2_scan):
    res = run("rank", "-r", h2_scan, "--step", "vqe", "--by", "abs_error:min", "--top", "0", "--json")
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    all_cols = set(Catalog(default_db(h2_scan)).runs().columns)
    assert len(rows) == 10 and all_cols <= set(rows[0]) and {"position", "score", "bond_length"} <= set(rows[0])
    assert sorted({r["bond_length"] for r in rows}) == BONDS
    res = run("ls", "-r", h2_scan, "--json", "-n", "0")
    rows = json.loads(res.output)
    assert len(rows) == 40 and all_cols | {"bond_length"} <= set(rows[0])
    res = run("ls", "-r", h2_scan, "--csv", "-n", "0")
    df = pd.read_csv(io.StringIO(res.output))
    assert len(df) == 40 and all_cols <= set(df.columns) and sorted(df["bond_length"].unique()) == BONDS
    res = run("ls", "-r", h2_scan, "-c", "task_id,bond_length,energy")
    assert res.exit_code == 0 and "bond_length" in res.output and "optimizer" not in res.output


def test_no_results_option_uses_the_latest_fetched_study(h2_scan, study, tmp_path, monkeypatch):
    monkeypatch.delenv("HPCQ_RESULTS_DIR", raising=False)
    monkeypatch.setenv("HPCQ_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.chdir(tmp_path)
    # as `hpcq submit` + `hpcq fetch` leave it: an older study, then h2-scan fetched into its folder
    records.save(records.Submission(name="noise-study", kind="workflow", colony="dev", results_dir=str(study)))
    old = records.records_dir() / "noise-study.json"
    os.utime(old, (time.time() - 60, time.time() - 60))
    records.save(records.Submission(name="h2-scan", kind="workflow", colony="dev", results_dir=str(h2_scan)))
    res = run("ls", "--step", "vqe", "--json", "-n", "0")
    assert res.exit_code == 0, res.output
    assert {r["study"] for r in json.loads(res.output)} == {"h2-scan"}
    res = run("rank", "--step", "vqe", "--by", "abs_error:min", "--json")
    assert res.exit_code == 0 and {r["study"] for r in json.loads(res.output)} == {"h2-scan"}
    # fetch's default folder, results/NAME, when the record has none
    records.save(records.Submission(name="later", kind="workflow", colony="dev"))
    res = run("ls")  # not fetched yet: the error says so
    assert res.exit_code != 0 and "hpcq fetch later" in res.output and "--results DIR" in res.output
    (records.records_dir() / "later.json").unlink()
    shutil.copytree(study, tmp_path / "results" / "late")  # `study` is tmp_path/results
    records.save(records.Submission(name="late", kind="workflow", colony="dev"))
    res = run("ls", "--step", "vqe", "--json", "-n", "0")
    assert {r["study"] for r in json.loads(res.output)} == {"noise-study"}


def test_the_results_dir_setting_is_the_default_folder(h2_scan, study, tmp_path, monkeypatch):
    """`hpcq results` and `hpcq ui` read results_dir through Settings: config.yaml, overridden by
    HPCQ_RESULTS_DIR, both before the latest fetched study (docs/configuration.md)."""
    from hpcq.results.cli import open_catalog

    config = tmp_path / "config"
    config.mkdir()
    monkeypatch.delenv("HPCQ_RESULTS_DIR", raising=False)
    monkeypatch.setenv("HPCQ_CONFIG_DIR", str(config))
    records.save(records.Submission(name="h2-scan", kind="workflow", colony="dev", results_dir=str(h2_scan)))
    (config / "config.yaml").write_text(f"results_dir: {study}\n")
    res = run("ls", "--step", "vqe", "--json", "-n", "0")
    assert res.exit_code == 0 and {r["study"] for r in json.loads(res.output)} == {"noise-study"}, res.output
    assert open_catalog(None, None).db_path == default_db(study)  # what `hpcq ui` serves
    monkeypatch.setenv("HPCQ_RESULTS_DIR", str(h2_scan))
    res = run("ls", "--step", "vqe", "--json", "-n", "0")
    assert {r["study"] for r in json.loads(res.output)} == {"h2-scan"}
    (config / "config.yaml").write_text("results_dri: x\n")  # a typo is refused with the fix
    res = run("ls")
    assert res.exit_code != 0 and "did you mean results_dir" in res.output, res.output


def test_rerun_and_validate_are_results_commands_and_ls_needs_no_qiskit():
    from hpcq.cli import COMMANDS, SUBCOMMANDS
    from hpcq.results import cli

    assert CliRunner().invoke(main, ["results", "--help"]).exit_code == 0  # hpcq/cli.py adds rerun
    assert {"rerun", "validate"} <= set(cli.results.commands)
    assert COMMANDS["rerun"] == SUBCOMMANDS["results"]["rerun"] == "hpcq.worker.rerun:rerun"
    code = (
        "import sys; from click.testing import CliRunner; from hpcq.cli import main; "
        "r = CliRunner().invoke(main, ['results', 'ls', '--help']); assert r.exit_code == 0, r.output; "
        "bad = [m for m in sys.modules if m.startswith(('qiskit', 'hpcq.sim'))]; assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_rank_rows_of_a_noise_study_can_be_told_apart_at_80_columns(study, monkeypatch):
    """Each row shows the ranked metrics, its optimizer and its noise model with the model's own
    parameters ("bit_flip(p=0.01)"; a long label is cut no shorter than 26 characters, never to
    "depola…"); a column with one value in every row is left out and said in the title instead."""
    from hpcq.results.graph import noise_label

    monkeypatch.setenv("COLUMNS", "80")
    by = ["--by", "abs_error:min", "--by", "jsd:min"]
    res = run("rank", "-r", study, *by, "--top", "10")
    assert res.exit_code == 0, res.output
    assert max(len(line) for line in lines_of(res)) <= 80, res.output
    header = next(line for line in lines_of(res) if "position" in line)
    shown = [h.strip() for h in header.strip("┃").split("┃")]
    assert shown[:5] == ["position", "abs_error", "jsd", "noise", "optimizer"], shown
    rows = json.loads(run("rank", "-r", study, *by, "--json").output)[:10]
    body = [line for line in lines_of(res) if line.startswith("│")]
    assert len(body) == 10
    for row, line in zip(rows, body, strict=True):
        cells = [c.strip() for c in line.strip("│").split("│")]
        label = noise_label(row["noise_model"], row["noise_params"])
        assert cells[4] == row["optimizer"] and "(" in label
        assert cells[3] == label or (len(cells[3]) >= 26 and cells[3].endswith("…") and label.startswith(cells[3][:-1]))
    res = run("ls", "-r", study, "--step", "noise", "-n", "5")  # one step: said once, not per row
    assert res.exit_code == 0 and "all rows: step=noise" in res.output, res.output
    assert "│ noise " not in res.output
