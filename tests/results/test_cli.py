import json

import pandas as pd
from click.testing import CliRunner

from hpcq.cli import main
from hpcq.results.catalog import Catalog, default_db


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


def test_ls_without_a_catalog_says_how(monkeypatch):
    monkeypatch.delenv("HPCQ_RESULTS_DIR", raising=False)
    res = run("ls")
    assert res.exit_code != 0 and "--results DIR" in res.output


def test_rank_json_save_and_export_with_ranking(study, tmp_path):
    res = run("rank", "-r", study, "--by", "energy_error:min", "--by", "jsd:min",
              "--weights", "0.7,0.3", "--top", "5", "--save", "best", "--json")
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output[res.output.index("["):res.output.rindex("]") + 1])
    assert [r["position"] for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0]["score"] <= rows[-1]["score"]
    definition, ranks = Catalog(default_db(study)).ranking("best")
    assert definition["by"] == [{"metric": "abs_error", "direction": "min"},
                                {"metric": "jsd", "direction": "min"}]
    assert len(ranks) == 36 and list(ranks["task_id"][:5]) == [r["task_id"] for r in rows]

    out = tmp_path / "noise.parquet"
    res = run("export", "-r", study, "--format", "parquet", "-o", out, "--view", "noise",
              "--ranking", "best")
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
    res = run("rank", "-r", study, "--step", "vqe", "--mode", "lexicographic",
              "--by", "chemical_accuracy:max", "--by", "abs_error:min", "--top", "0", "--json")
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert len(rows) == 12
    errs = [r["abs_error"] for r in rows]
    assert rows[0]["position"] == 1 and errs == sorted(errs)  # synthetic: accuracy <=> low error
