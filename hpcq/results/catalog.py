"""Offline catalog of hpcq result files: one SQLite database indexing HDF5 attributes.

Why: ranking and the dashboard need every run's metrics at once; opening thousands of HDF5
files per query is too slow, so their attributes (task attributes, metrics, a few provenance
fields) are copied into SQLite once, incrementally.

Incremental rule, per file under the indexed folder:
  * size and mtime unchanged                      -> skipped, file not opened;
  * size/mtime changed, same ``content_sha256``   -> only size/mtime updated (touched/copied);
  * otherwise                                     -> its rows are replaced;
  * a catalogued file that vanished from the folder -> its rows are removed.
Default database: ``DIR/.hpcq-catalog.sqlite`` (see :func:`default_db`).
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from hpcq.results.h5format import (
    BOOL_METRICS,
    INT_METRICS,
    METRIC_ATTRS,
    OPTIONAL_METRICS,
    PROVENANCE_COLUMNS,
    SCAN_POINT,
    SIGNED_ERROR,
    TASK_ATTRS,
    TRANSFER_COLUMNS,
    now_iso,
    transfer_totals,
)
from hpcq.results.series import read_for_index

DB_NAME = ".hpcq-catalog.sqlite"
PARALLEL_MIN = 256  # fewer files than this are read in-process (a pool costs ~0.3 s to start)
SCHEMA_VERSION = 3  # 2: the series table (traces, distributions); 3: site, executor, inputs_bytes/_s

# (column, SQL type): the format's task attributes, metrics and provenance fields
# (hpcq.results.h5format, docs/results-format.md); metrics are REAL but the format's integer and
# boolean ones, task attributes TEXT but the integers
INTEGER_ATTRS = ("n_qubits", "reps", "seed", "shots", "rank")


def _sql_type(name: str) -> str:
    if name in INTEGER_ATTRS or name in INT_METRICS or name in BOOL_METRICS:
        return "INTEGER"
    return "REAL" if name in METRIC_ATTRS or name in OPTIONAL_METRICS else "TEXT"


TASK_COLUMNS = [(c, _sql_type(c)) for c in TASK_ATTRS]
# the metric wall_time_s equals the task attribute and shares its column
METRIC_COLUMNS = [(c, _sql_type(c)) for c in METRIC_ATTRS if c not in TASK_ATTRS]
# metrics a task has when they apply (h5format.OPTIONAL_METRICS): added to older catalogs in place
# (Catalog._add_columns); NULL where a file has none. signed_error is derived for older files.
METRIC_COLUMNS += [(c, "REAL") for c in OPTIONAL_METRICS]
PROV_COLUMNS = [(c, "TEXT") for c in PROVENANCE_COLUMNS]
XFER_COLUMNS = [(c, "INTEGER" if c.endswith("_bytes") else "REAL") for c in TRANSFER_COLUMNS]
RUN_COLUMNS = [("file", "TEXT"), ("study", "TEXT")] + TASK_COLUMNS + METRIC_COLUMNS + PROV_COLUMNS + XFER_COLUMNS
RUN_NAMES = [c for c, _ in RUN_COLUMNS]

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, content_sha256 TEXT, study TEXT,
    created TEXT, format_version INTEGER, n_tasks INTEGER, provenance TEXT, indexed_at TEXT);
CREATE TABLE IF NOT EXISTS runs (
    {", ".join(f"{c} {t}" for c, t in RUN_COLUMNS)}, extra TEXT,
    PRIMARY KEY (file, task_id),
    FOREIGN KEY (file) REFERENCES files(path) ON DELETE CASCADE);
CREATE INDEX IF NOT EXISTS runs_task ON runs(task_id);
CREATE INDEX IF NOT EXISTS runs_parent ON runs(parent_task_id);
CREATE TABLE IF NOT EXISTS index_errors (path TEXT PRIMARY KEY, error TEXT, at TEXT);
CREATE TABLE IF NOT EXISTS rankings (
    id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, definition TEXT NOT NULL,
    created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ranks (
    ranking_id INTEGER NOT NULL REFERENCES rankings(id) ON DELETE CASCADE,
    file TEXT NOT NULL, task_id TEXT NOT NULL, position INTEGER NOT NULL, score REAL,
    PRIMARY KEY (ranking_id, file, task_id));
CREATE TABLE IF NOT EXISTS series (
    file TEXT NOT NULL, task_id TEXT NOT NULL, trace TEXT, dist TEXT,
    PRIMARY KEY (file, task_id),
    FOREIGN KEY (file) REFERENCES files(path) ON DELETE CASCADE);
"""


class CatalogError(Exception):
    """A catalog problem; the message says what to do."""


@dataclass
class IndexStats:
    """What one :meth:`Catalog.index` call did."""

    added: int = 0
    updated: int = 0
    touched: int = 0  # size/mtime changed, same content: not re-read
    unchanged: int = 0
    removed: int = 0
    runs: int = 0  # runs (re)written
    errors: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        s = (
            f"{self.added} added, {self.updated} updated, {self.touched} touched, "
            f"{self.unchanged} unchanged, {self.removed} removed ({self.runs} runs written)"
        )
        return s + (f", {len(self.errors)} unreadable" if self.errors else "")


def default_db(results_dir: str | Path) -> Path:
    """The catalog that belongs to a results folder."""
    return Path(results_dir) / DB_NAME


def _scalar(v: Any) -> Any:
    """HDF5/numpy values -> SQLite values (NaN -> NULL, bool -> int, bytes -> str)."""
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, bool):
        return int(v)
    return v


def scan(root: Path) -> dict[str, os.stat_result]:
    """Every result file under ``root`` (hidden/temporary files of atomic writers excluded)."""
    found: dict[str, os.stat_result] = {}
    stack = [root]
    while stack:
        with os.scandir(stack.pop()) as it:
            for e in it:
                if e.name.startswith("."):
                    continue
                if e.is_dir(follow_symlinks=False):
                    stack.append(Path(e.path))
                elif e.name.endswith(".h5") and e.is_file():
                    found[e.path] = e.stat()
    return found


Read = tuple[dict[str, Any], dict[str, dict[str, Any]]]  # series.read_for_index: (summary, series)


def _read(path: str) -> tuple[str, Read | Exception]:
    try:
        return path, read_for_index(path)
    except Exception as exc:  # noqa: BLE001 - reported per file by the caller
        return path, exc


def read_many(paths: list[str], workers: int | None = None) -> Iterator[tuple[str, Read | Exception]]:
    """(path, (summary, series) or the exception reading it), in order; parallel for many files.

    Workers run series.read_for_index (forkserver: they import only h5py/numpy, not this
    module's pandas), so a pool is cheap to start and nothing is inherited by fork."""
    if workers is None:
        workers = min(8, len(os.sched_getaffinity(0)))
    if workers <= 1 or len(paths) < PARALLEL_MIN:
        yield from map(_read, paths)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    ctx = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
        futures = [pool.submit(read_for_index, p) for p in paths]
        for p, fut in zip(paths, futures, strict=True):
            try:
                yield p, fut.result()
            except Exception as exc:  # noqa: BLE001
                yield p, exc


def _add_columns(con: sqlite3.Connection) -> bool:
    """Columns of RUN_COLUMNS that an older catalog's runs table lacks, added (ALTER TABLE); True
    when any was, so that every file is re-read at the next index and fills them."""
    have = {row[1] for row in con.execute("PRAGMA table_info(runs)")}
    missing = [(c, t) for c, t in RUN_COLUMNS if c not in have]
    for c, t in missing:
        con.execute(f"ALTER TABLE runs ADD COLUMN {c} {t}")
    return bool(missing)


def _series_rows(path: str, series: dict[str, dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Rows of the series table for one file: (file, task_id, trace JSON, distribution JSON)."""
    return [
        (
            path,
            tid,
            json.dumps(rec["trace"]) if "trace" in rec else None,
            json.dumps(rec["dist"]) if "dist" in rec else None,
        )
        for tid, rec in series.items()
    ]


class Catalog:
    """``Catalog(db_path).index(dir)`` then ``.runs()`` / ``.noise_runs()`` / rankings."""

    def __init__(self, db_path: str | Path, readonly: bool = False):
        self.db_path = Path(db_path)
        self.readonly = readonly
        if readonly:
            if not self.db_path.exists():
                raise CatalogError(
                    f"no catalog at {self.db_path}: create it with `hpcq results index DIR --db {self.db_path}`"
                )
        else:
            self.db_path.parent.mkdir(parents=True, exist_ok=True)
            with closing(self.connect()) as con, con:
                have = {r[1] for r in con.execute("PRAGMA table_info(runs)")}
                if not have <= {*RUN_NAMES, "extra"}:  # a newer hpcq's columns: rebuilt empty and
                    con.executescript("DROP TABLE IF EXISTS series; DROP TABLE runs; DROP TABLE IF EXISTS files;")
                    have = set()  # filled again by the next index
                added = bool(have) and _add_columns(con)  # an older hpcq's: the new columns added in place
                con.executescript(SCHEMA)
                old = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
                if added or (old and int(old[0]) < SCHEMA_VERSION):
                    con.execute("DELETE FROM files")  # re-read every file at the next index
                con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))

    def connect(self) -> sqlite3.Connection:
        """A new connection (one per thread/request: the dashboard serves threads)."""
        if self.readonly:
            con = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, check_same_thread=False)
        else:
            con = sqlite3.connect(self.db_path, timeout=30, check_same_thread=False)
        con.execute("PRAGMA foreign_keys = ON")
        return con

    # ---- indexing -------------------------------------------------------------------------
    def index(self, root: str | Path, workers: int | None = None) -> IndexStats:
        """Bring the catalog up to date with the result files under ``root`` (incremental).

        New/changed files are read by ``workers`` processes (default: the CPUs this process
        may use, at most 8) when there are many; SQLite is written by this process only."""
        if self.readonly:
            raise CatalogError("this catalog was opened read-only; open it without readonly")
        root = Path(root).resolve()
        if not root.is_dir():
            raise CatalogError(f"results folder {root} does not exist or is not a folder")
        found = scan(root)
        stats = IndexStats()
        prefix = str(root) + os.sep
        with closing(self.connect()) as con, con:
            known = {
                p: (s, m, h)
                for p, s, m, h in con.execute(
                    "SELECT path, size, mtime_ns, content_sha256 FROM files WHERE substr(path, 1, ?) = ?",
                    (len(prefix), prefix),
                )
            }
            todo = []
            for path in sorted(found):
                st = found[path]
                old = known.get(path)
                if old and old[0] == st.st_size and old[1] == st.st_mtime_ns:
                    stats.unchanged += 1
                else:
                    todo.append(path)
            for path, summary in read_many(todo, workers):
                try:
                    if isinstance(summary, Exception):
                        raise summary
                    self._index_file(con, path, found[path], known.get(path), *summary, stats)
                    con.execute("DELETE FROM index_errors WHERE path = ?", (path,))
                except Exception as exc:  # noqa: BLE001 - one bad file must not stop the index
                    msg = f"{type(exc).__name__}: {exc}"
                    stats.errors[path] = msg
                    con.execute("INSERT OR REPLACE INTO index_errors VALUES (?, ?, ?)", (path, msg, now_iso()))
            gone = [p for p in known if p not in found]
            con.executemany("DELETE FROM files WHERE path = ?", [(p,) for p in gone])
            stale = [
                p
                for (p,) in con.execute(
                    "SELECT path FROM index_errors WHERE substr(path, 1, ?) = ?", (len(prefix), prefix)
                )
                if p not in found
            ]
            con.executemany("DELETE FROM index_errors WHERE path = ?", [(p,) for p in stale])
            stats.removed = len(gone)
        return stats

    def _index_file(
        self, con, path: str, st, old, summary: dict[str, Any], series: dict[str, dict[str, Any]], stats: IndexStats
    ) -> None:
        attrs = summary["attrs"]
        sha = str(attrs.get("content_sha256", ""))
        if old and sha and old[2] == sha:
            con.execute("UPDATE files SET size = ?, mtime_ns = ? WHERE path = ?", (st.st_size, st.st_mtime_ns, path))
            stats.touched += 1
            return
        prov = {k: _scalar(v) for k, v in summary["provenance"].items()}
        con.execute("DELETE FROM files WHERE path = ?", (path,))  # cascades to its runs
        con.execute(
            "INSERT INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                path,
                st.st_size,
                st.st_mtime_ns,
                sha,
                _scalar(attrs.get("study", "")),
                _scalar(attrs.get("created", "")),
                _scalar(attrs.get("format_version")),
                _scalar(attrs.get("n_tasks")),
                json.dumps(prov, default=str),
                now_iso(),
            ),
        )
        rows = []
        for task in summary["tasks"]:
            values = {k: _scalar(v) for k, v in task["attrs"].items()}
            values.update({k: _scalar(v) for k, v in task["metrics"].items()})
            if values.get(SIGNED_ERROR) is None and None not in (values.get("energy"), values.get("exact_energy")):
                values[SIGNED_ERROR] = values["energy"] - values["exact_energy"]  # files before issue 25
            row = {"file": path, "study": _scalar(attrs.get("study", ""))}
            row.update({k: prov.get(k) for k, _ in PROV_COLUMNS})
            row.update(transfer_totals(prov))
            extra = {}
            for k, v in values.items():
                if k in RUN_NAMES:
                    row[k] = v
                else:
                    extra[k] = v
            rows.append([row.get(c) for c in RUN_NAMES] + [json.dumps(extra, default=str)])
        names = ", ".join([*RUN_NAMES, "extra"])  # by name: columns added later sit after extra
        con.executemany(f"INSERT INTO runs ({names}) VALUES ({','.join('?' * (len(RUN_NAMES) + 1))})", rows)
        con.executemany("INSERT OR REPLACE INTO series VALUES (?, ?, ?, ?)", _series_rows(path, series))
        stats.runs += len(rows)
        if old:
            stats.updated += 1
        else:
            stats.added += 1

    # ---- reading --------------------------------------------------------------------------
    def query(self, sql: str, params: Iterable[Any] = ()) -> pd.DataFrame:
        with closing(self.connect()) as con:
            return pd.read_sql_query(sql, con, params=list(params))

    def runs(self, step: str | None = None, study: str | None = None) -> pd.DataFrame:
        """All catalogued runs, one row per task (columns of docs/results-format.md)."""
        where, params = [], []
        if step:
            where.append("step = ?")
            params.append(step)
        if study:
            where.append("study = ?")
            params.append(study)
        sql = f"SELECT {', '.join(RUN_NAMES)} FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        df = self.query(sql + " ORDER BY task_id, file", params)
        df["chemical_accuracy"] = df["chemical_accuracy"].astype("boolean")
        return df

    def noise_runs(self, study: str | None = None) -> pd.DataFrame:
        """One row per noise run, with its parent VQE run's columns prefixed ``vqe_``.

        A noise run whose parent is not catalogued keeps empty ``vqe_*`` columns.
        """
        return join_parents(self.runs(study=study))

    def files(self) -> pd.DataFrame:
        return self.query(
            "SELECT path, size, mtime_ns, content_sha256, study, created, n_tasks, indexed_at FROM files ORDER BY path"
        )

    def failed_tasks(self, study: str | None = None) -> pd.DataFrame:
        """Tasks that failed inside a sweep (provenance ``failed_tasks`` of their file): one row per
        task with file, study, task_id, rank and error; the file's other tasks are in ``runs``."""
        rows = []
        sql = "SELECT path, study, provenance FROM files" + (" WHERE study = ?" if study else "") + " ORDER BY path"
        for path, st, prov in self.connect().execute(sql, (study,) if study else ()).fetchall():
            failed = json.loads(prov or "{}").get("failed_tasks") or "[]"
            for f in json.loads(failed) if isinstance(failed, str) else failed:
                rows.append({"file": path, "study": st, **f})
        return pd.DataFrame(rows, columns=["file", "study", "task_id", "rank", "error"])

    def errors(self) -> pd.DataFrame:
        return self.query("SELECT path, error, at FROM index_errors ORDER BY path")

    def studies(self) -> list[str]:
        return list(self.query("SELECT DISTINCT study FROM runs ORDER BY study")["study"])

    def study_times(self) -> pd.DataFrame:
        """Each study with its number of runs and the creation time of its newest file."""
        return self.query(
            "SELECT f.study AS study, MAX(f.created) AS created, "
            "SUM(f.n_tasks) AS n_runs FROM files f GROUP BY f.study "
            "ORDER BY created DESC, study"
        )

    def series(self, task_ids: Iterable[str]) -> dict[tuple[str, str], dict[str, Any]]:
        """(file, task_id) -> {"trace": [...], "dist": {...}} of these tasks (see series.py)."""
        ids = sorted(set(task_ids))
        out: dict[tuple[str, str], dict[str, Any]] = {}
        with closing(self.connect()) as con:
            for i in range(0, len(ids), 500):
                chunk = ids[i : i + 500]
                try:
                    rows = con.execute(
                        "SELECT file, task_id, trace, dist FROM series WHERE task_id "
                        f"IN ({','.join('?' * len(chunk))})",
                        chunk,
                    ).fetchall()
                except sqlite3.OperationalError:  # a catalog of schema 1 opened read-only
                    return {}
                for f, t, trace, dist in rows:
                    rec: dict[str, Any] = {}
                    if trace:
                        rec["trace"] = json.loads(trace)
                    if dist:
                        rec["dist"] = json.loads(dist)
                    out[(f, t)] = rec
        return out

    # ---- rankings -------------------------------------------------------------------------
    def save_ranking(self, name: str, definition: dict[str, Any], ranked: pd.DataFrame) -> int:
        """Store a ranking (replacing one of the same name): its definition and its ranks."""
        if not name or not name.strip():
            raise CatalogError("--save NAME: the ranking name must not be empty")
        with closing(self.connect()) as con, con:
            con.execute("DELETE FROM rankings WHERE name = ?", (name,))
            cur = con.execute(
                "INSERT INTO rankings (name, definition, created) VALUES (?, ?, ?)",
                (name, json.dumps(definition, sort_keys=True), now_iso()),
            )
            rid = cur.lastrowid
            assert rid is not None  # set by the INSERT
            score = ranked["score"].astype(float)
            con.executemany(
                "INSERT INTO ranks VALUES (?, ?, ?, ?, ?)",
                zip(
                    [rid] * len(ranked),
                    ranked["file"],
                    ranked["task_id"],
                    ranked["position"].astype(int).tolist(),
                    [None if math.isnan(s) else s for s in score.tolist()],
                    strict=True,
                ),
            )
        return rid

    def rankings(self) -> pd.DataFrame:
        return self.query(
            "SELECT r.id, r.name, r.definition, r.created, COUNT(k.task_id) AS n "
            "FROM rankings r LEFT JOIN ranks k ON k.ranking_id = r.id "
            "GROUP BY r.id ORDER BY r.name"
        )

    def ranking(self, name: str) -> tuple[dict[str, Any], pd.DataFrame]:
        """A saved ranking: its definition and its ranks (file, task_id, position, score)."""
        row = self.query("SELECT id, definition FROM rankings WHERE name = ?", [name])
        if row.empty:
            known = ", ".join(self.rankings()["name"]) or "none saved yet"
            raise CatalogError(
                f"no ranking named {name!r} (known: {known}); save one with `hpcq results rank ... --save NAME`"
            )
        ranks = self.query(
            "SELECT file, task_id, position, score FROM ranks WHERE ranking_id = ? ORDER BY position, task_id",
            [int(row["id"][0])],
        )
        return json.loads(row["definition"][0]), ranks


def params_dict(text: Any) -> dict[str, Any]:
    """A parameters JSON (problem_params, noise_params) as a dict ({} if not one)."""
    try:
        d = json.loads(text) if isinstance(text, str) and text else {}
    except ValueError:
        return {}
    return d if isinstance(d, dict) else {}


def problem_params(text: Any) -> dict[str, Any]:
    """A problem_params JSON as a dict, a scan point ({name, value, unit}) as ``name: value``
    (so ``bond_length`` is a parameter like h2's own)."""
    d = params_dict(text)
    point = d.pop(SCAN_POINT, None)
    if isinstance(point, dict) and "name" in point:
        d[str(point["name"])] = point.get("value")
    return d


def param_text(v: Any) -> Any:
    """A problem parameter as a table cell: scalars as they are, an atom list or a multi-line
    geometry on one line ('Li 0 0 0; H 0 0 1.6'), anything else as JSON."""
    if v is None or isinstance(v, (int, float, str, bool)):
        return v.replace("\n", "; ") if isinstance(v, str) else v
    if isinstance(v, list) and all(isinstance(a, list) and len(a) == 4 for a in v):
        return "; ".join(" ".join(f"{c:g}" if isinstance(c, (int, float)) else str(c) for c in a) for a in v)
    return json.dumps(v, sort_keys=True)


def add_problem_params(runs: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """``runs`` with a column for each of ``names`` that is a problem parameter of some run
    (geometry, basis, active_orbitals, a scanned coordinate, ...) and not a column already."""
    if runs.empty or "problem_params" not in runs:
        return runs
    parsed = runs["problem_params"].map(problem_params)
    known = set().union(*parsed)
    out = runs
    for k in names:
        if k in known and k not in runs.columns:
            out = out.copy() if out is runs else out
            out[k] = parsed.map(lambda d, k=k: param_text(d.get(k)))
            if out[k].map(lambda v: isinstance(v, (int, float)) or v is None).all():
                out[k] = pd.to_numeric(out[k], errors="coerce")
    return out


def problem_param_names(runs: pd.DataFrame) -> list[str]:
    """Every problem parameter some run has (what ``-c`` accepts beyond the columns)."""
    if runs.empty or "problem_params" not in runs:
        return []
    return sorted(set().union(*runs["problem_params"].map(problem_params)))


def scanned_params(runs: pd.DataFrame) -> list[str]:
    """Problem parameters that vary between runs of the same study and problem (a scan:
    bond length, field strength). Non-scalar values (geometries) are left out."""
    if runs.empty or "problem_params" not in runs:
        return []
    found: list[str] = []
    for _, grp in runs.groupby(["study", "problem"], dropna=False):
        seen: dict[str, set] = {}
        for text in grp["problem_params"].dropna().unique():
            for k, v in problem_params(text).items():
                if isinstance(v, (int, float, str, bool)) or v is None:
                    seen.setdefault(k, set()).add(v)
        found += [k for k, vals in seen.items() if len(vals) > 1 and k not in found]
    return found


def with_problem_params(runs: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """``runs`` with one column per scanned problem parameter (named as the parameter, or
    ``problem.<name>`` where that would clash), and the names of those columns."""
    keys = scanned_params(runs)
    if not keys:
        return runs, []
    parsed = runs["problem_params"].map(problem_params)
    out, names = runs.copy(), []
    for k in keys:
        name = k if k not in runs.columns else f"problem.{k}"
        out[name] = parsed.map(lambda d, k=k: d.get(k))
        if out[name].map(lambda v: isinstance(v, (int, float)) or v is None).all():
            out[name] = pd.to_numeric(out[name], errors="coerce")
        names.append(name)
    return out, names


def join_parents(runs: pd.DataFrame) -> pd.DataFrame:
    """Noise runs joined with their parent VQE runs (``vqe_`` prefix), by study + task id."""
    noise = runs[runs["step"] == "noise"]
    vqe = runs[runs["step"] == "vqe"].drop_duplicates(["study", "task_id"])
    parents = vqe.add_prefix("vqe_").rename(columns={"vqe_study": "study"})
    out = noise.merge(parents, how="left", left_on=["study", "parent_task_id"], right_on=["study", "vqe_task_id"])
    return out.reset_index(drop=True)
