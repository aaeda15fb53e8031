import os
import shutil

import h5py
import pytest

from hpcq.results.catalog import Catalog, CatalogError, default_db
from hpcq.testing.synthetic import make_study


def test_index_reads_every_task_with_its_metrics(study):
    cat = Catalog(default_db(study))
    stats = cat.index(study)
    assert (stats.added, stats.runs, stats.errors) == (12, 48, {})
    runs = cat.runs()
    assert len(runs) == 48 and runs["task_id"].is_unique
    assert sorted(runs["step"].value_counts().items()) == [("noise", 36), ("vqe", 12)]
    # values are the file's values, not a reconstruction
    row = runs[runs["step"] == "noise"].iloc[0]
    with h5py.File(row["file"]) as f:
        m = f["tasks"][row["task_id"]]["metrics"].attrs
        assert row["jsd"] == pytest.approx(float(m["jsd"]))
        assert row["abs_error"] == pytest.approx(float(m["abs_error"]))
        assert row["slurm_job_id"] == f["provenance"].attrs["slurm_job_id"]
    # NaN metrics of vqe runs come back as NaN, not 0
    assert runs[runs["step"] == "vqe"]["jsd"].isna().all()


def test_noise_runs_are_joined_with_their_parent_vqe_run(study):
    cat = Catalog(default_db(study))
    cat.index(study)
    noise = cat.noise_runs()
    assert len(noise) == 36
    assert (noise["vqe_task_id"] == noise["parent_task_id"]).all()
    vqe = cat.runs(step="vqe").set_index("task_id")
    for _, r in noise.iterrows():
        assert r["vqe_abs_error"] == vqe.loc[r["parent_task_id"], "abs_error"]
        assert r["vqe_step"] == "vqe" and r["optimizer"] == r["vqe_optimizer"]


def test_incremental_index_skips_touches_updates_and_removes(study):
    cat = Catalog(default_db(study))
    cat.index(study)
    again = cat.index(study)
    assert (again.unchanged, again.added, again.updated, again.runs) == (12, 0, 0, 0)

    files = sorted(study.glob("*.h5"))
    # same bytes, new mtime: the content hash says unchanged -> not re-read
    os.utime(files[0], ns=(1, 1))
    # a rewritten file (other metrics, other hash): re-read
    make_study(study / "tmp", n_workflows=1, seed=99)
    shutil.copy(study / "tmp" / "wf00000-vqe.h5", files[1])  # wf00000-noise < wf00000-vqe
    shutil.rmtree(study / "tmp")
    files[2].unlink()
    (study / "sub").mkdir()
    make_study(study / "sub", n_workflows=1, study="other", seed=3)

    s = cat.index(study)
    assert (s.touched, s.updated, s.removed, s.added) == (1, 1, 1, 2)
    runs = cat.runs()
    assert str(files[2]) not in set(runs["file"])
    assert "other" in set(runs["study"])
    assert len(runs) == 48 - 6 + 8  # wf00001-noise (6 runs) gone; sub/ adds 2 vqe + 6 noise
    # rows of the rewritten file are replaced by its new values
    with h5py.File(files[1]) as f:
        new = {k: float(g["metrics"].attrs["abs_error"]) for k, g in f["tasks"].items()}
    got = runs[runs["file"] == str(files[1])].set_index("task_id")["abs_error"].to_dict()
    assert got == pytest.approx(new)
    assert set(cat.files()["path"]) == {str(p) for p in study.rglob("*.h5")}


def test_unreadable_files_are_reported_not_fatal(study):
    (study / "broken.h5").write_bytes(b"not hdf5 at all")
    with h5py.File(study / "foreign.h5", "w") as f:
        f.attrs["format"] = "something-else"
    cat = Catalog(default_db(study))
    stats = cat.index(study)
    assert stats.added == 12
    assert set(stats.errors) == {str(study / "broken.h5"), str(study / "foreign.h5")}
    assert "not an hpcq result file" in stats.errors[str(study / "foreign.h5")]
    assert len(cat.errors()) == 2
    (study / "broken.h5").unlink()
    cat.index(study)
    assert list(cat.errors()["path"]) == [str(study / "foreign.h5")]


def test_hidden_temporary_files_of_atomic_writers_are_ignored(study):
    shutil.copy(next(study.glob("*.h5")), study / ".wf-partial.h5.tmp.h5")
    cat = Catalog(default_db(study))
    assert cat.index(study).added == 12


def test_saved_ranking_round_trip_and_replace(study):
    from hpcq.results.rank import make_spec, rank

    cat = Catalog(default_db(study))
    cat.index(study)
    spec = make_spec(["abs_error:min", "jsd:min"], "0.7,0.3")
    ranked = rank(cat.noise_runs(), spec)
    cat.save_ranking("r1", spec.definition(), ranked)
    cat.save_ranking("r1", spec.definition(), ranked.head(5))  # same name replaces
    definition, ranks = cat.ranking("r1")
    assert definition["weights"] == [0.7, 0.3] and definition["mode"] == "weighted"
    assert definition["by"][0] == {"metric": "abs_error", "direction": "min"}
    assert list(ranks["task_id"]) == list(ranked.head(5)["task_id"])
    assert list(cat.rankings()["name"]) == ["r1"] and cat.rankings()["n"][0] == 5
    with pytest.raises(CatalogError, match="r1"):
        cat.ranking("nope")


def test_readonly_catalog_refuses_missing_db_and_writes(tmp_path):
    with pytest.raises(CatalogError, match="hpcq results index"):
        Catalog(tmp_path / "none.sqlite", readonly=True)
    Catalog(tmp_path / "c.sqlite")
    ro = Catalog(tmp_path / "c.sqlite", readonly=True)
    with pytest.raises(CatalogError, match="read-only"):
        ro.index(tmp_path)
    assert ro.runs().empty


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(CatalogError, match="does not exist"):
        Catalog(tmp_path / "c.sqlite").index(tmp_path / "nope")


def test_parallel_read_gives_the_same_catalog_as_serial(study, tmp_path, monkeypatch):
    import hpcq.results.catalog as catalog_mod

    (study / "broken.h5").write_bytes(b"junk")
    serial = Catalog(tmp_path / "serial.sqlite")
    s1 = serial.index(study, workers=1)
    monkeypatch.setattr(catalog_mod, "PARALLEL_MIN", 0)
    parallel = Catalog(tmp_path / "parallel.sqlite")
    s2 = parallel.index(study, workers=2)
    assert (s1.added, s1.runs, list(s1.errors)) == (s2.added, s2.runs, list(s2.errors))
    a, b = serial.runs(), parallel.runs()
    assert a.equals(b)


def test_site_and_transfer_columns_and_an_older_catalog_rebuilt(study):
    """site, executor (provenance) and the inputs fetched from other sites (inputs_from summed) are
    columns; an older catalog gains them in place, not an INSERT error."""
    import json
    import sqlite3

    path = sorted(study.glob("*.h5"))[0]
    moved = [{"bytes": 1000, "seconds": 0.25}, {"bytes": 24, "seconds": 0.5}]
    with h5py.File(path, "a") as f:  # as an executor at site B writes it (hpcq.worker.provenance)
        f["provenance"].attrs.update({"site": "site-b", "executor": "exe-b", "inputs_from": json.dumps(moved)})
    db = default_db(study)
    from hpcq.results import catalog as C

    older = [c for c in C.RUN_COLUMNS if c[0] not in ("site", "executor", *C.TRANSFER_COLUMNS)]
    with sqlite3.connect(db) as con:  # an older hpcq's catalog: runs without the new columns
        con.executescript(
            C.SCHEMA.replace(", ".join(f"{c} {t}" for c, t in C.RUN_COLUMNS), ", ".join(f"{c} {t}" for c, t in older))
        )
        con.execute("INSERT INTO files (path) VALUES ('x')")
        con.execute("INSERT INTO runs (file, task_id) VALUES ('x', 'y')")
    with sqlite3.connect(db) as con:
        assert "site" not in {r[1] for r in con.execute("PRAGMA table_info(runs)")}
    cat = Catalog(db)
    assert cat.index(study).errors == {}
    runs = cat.runs()
    mine = runs[runs["file"] == str(path)]
    assert len(mine) and set(mine["site"]) == {"site-b"} and set(mine["executor"]) == {"exe-b"}
    assert set(mine["inputs_bytes"]) == {1024} and mine["inputs_s"].tolist() == [0.75] * len(mine)
    others = runs[runs["file"] != str(path)]
    assert set(others["inputs_bytes"]) == {0} and "y" not in set(runs["task_id"])


def test_a_newer_hpcqs_catalog_is_rebuilt_not_misread(study):
    """A runs table with a column this hpcq does not know (written by a newer hpcq) is dropped and
    filled again from the files: the runs come back with this hpcq's columns."""
    import sqlite3

    db = default_db(study)
    Catalog(db).index(study)
    with sqlite3.connect(db) as con:
        con.execute("ALTER TABLE runs ADD COLUMN from_the_future TEXT")
    cat = Catalog(db)
    assert cat.runs().empty  # rebuilt empty
    assert cat.index(study).added == 12 and len(cat.runs()) == 48
    assert "from_the_future" not in cat.runs().columns
