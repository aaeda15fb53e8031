"""Crash-safe record of process id <-> Slurm job id (SQLite, WAL, one file per executor).

The order of writes is what makes restarts safe:

1. ``record_intent``: before sbatch, in one transaction, the batch (unique job name, the tasks
   and submitit parameters needed to resubmit) and one row per process (state ``intent``).
2. ``record_submitted``: right after sbatch returns, the job id of every element.
3. ``mark_closed``: after the close/fail RPC succeeded (or the process was found gone).

A restarted executor looks up a batch still in ``intent`` by its job name in squeue/sacct: if
Slurm knows it, sbatch did happen and the job is adopted; if not, it is submitted now. So no
process ever gets a second Slurm job, and a process that is ``closed`` is never closed again.

Every batch is made by ``BatchRow.new`` (its id, its unique job name ``hpcq-<id>``: the key that
recovery looks up, and where its tasks write their outcomes) and its rows by ``BatchRow.procs``.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from hpcq.job.task import Task

JOB_PREFIX = "hpcq-"  # + batch id = the Slurm job name; backends find a batch's job by it after a crash

SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    batch_id   TEXT PRIMARY KEY,
    job_name   TEXT NOT NULL UNIQUE,
    backend    TEXT NOT NULL,
    folder     TEXT NOT NULL,
    params     TEXT NOT NULL,        -- submitit parameters (JSON)
    elements   INTEGER NOT NULL,     -- number of array elements (1 = plain job)
    created    REAL NOT NULL,
    submitted  REAL                  -- NULL while only the intent exists
);
CREATE TABLE IF NOT EXISTS procs (
    process_id TEXT PRIMARY KEY,
    batch_id   TEXT NOT NULL REFERENCES batches(batch_id),
    element    INTEGER NOT NULL,     -- array index of the element that runs it
    funcname   TEXT NOT NULL,
    task       TEXT NOT NULL,        -- hpcq.job.task.Task as JSON
    job_id     TEXT,                 -- element job id (123 or 123_4) once submitted
    state      TEXT NOT NULL,        -- intent | submitted | closed
    closed_as  TEXT,                 -- success | failed | gone
    closed_at  REAL,
    assigned   REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS procs_state ON procs(state);
CREATE TABLE IF NOT EXISTS log_offsets (
    path   TEXT PRIMARY KEY,
    offset INTEGER NOT NULL
);
"""


@dataclass
class ProcRow:
    process_id: str
    batch_id: str
    element: int
    funcname: str
    task: dict[str, Any]
    job_id: str | None = None
    state: str = "intent"
    closed_as: str | None = None
    assigned: float = 0.0


@dataclass
class BatchRow:
    batch_id: str
    job_name: str
    backend: str
    folder: str
    params: dict[str, Any]
    elements: int
    created: float
    submitted: float | None

    @classmethod
    def new(cls, backend: str, folder: str | Path, params: dict[str, Any], elements: int) -> BatchRow:
        """A batch not yet journaled: a fresh id, its unique Slurm job name, created now."""
        batch_id = uuid.uuid4().hex[:12]
        return cls(
            batch_id=batch_id,
            job_name=JOB_PREFIX + batch_id,
            backend=backend,
            folder=str(folder),
            params=params,
            elements=elements,
            created=time.time(),
            submitted=None,
        )

    def outcome_path(self, process_id: str) -> str:
        """Where the task of ``process_id`` in this batch writes its Outcome (shared filesystem)."""
        return str(Path(self.folder) / "outcomes" / self.batch_id / f"{process_id}.json")

    def procs(self, element_tasks: list[list[Task]], assigned: float | None = None) -> list[ProcRow]:
        """One intent row per task, element by element (``assigned``: default now)."""
        when = self.created if assigned is None else assigned
        return [
            ProcRow(
                process_id=t.process_id,
                batch_id=self.batch_id,
                element=i,
                funcname=t.funcname,
                task=asdict(t),
                assigned=when,
            )
            for i, tasks in enumerate(element_tasks)
            for t in tasks
        ]


class Journal:
    """Thread-safe (one connection, one lock); every method is its own transaction."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # survive power loss, not just SIGKILL
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _tx(self, statements: Iterable[tuple[str, tuple[Any, ...]]]) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for sql, args in statements:
                    self._db.execute(sql, args)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def _query(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # -- writes -----------------------------------------------------------------------------
    def record_intent(self, batch: BatchRow, procs: list[ProcRow]) -> None:
        stmts: list[tuple[str, tuple[Any, ...]]] = [
            (
                "INSERT INTO batches VALUES (?,?,?,?,?,?,?,NULL)",
                (
                    batch.batch_id,
                    batch.job_name,
                    batch.backend,
                    batch.folder,
                    json.dumps(batch.params, sort_keys=True),
                    batch.elements,
                    batch.created,
                ),
            )
        ]
        stmts += [
            (
                "INSERT INTO procs VALUES (?,?,?,?,?,NULL,'intent',NULL,NULL,?)",
                (p.process_id, batch.batch_id, p.element, p.funcname, json.dumps(p.task), p.assigned),
            )
            for p in procs
        ]
        self._tx(stmts)

    def record_submitted(self, batch_id: str, element_job_ids: list[str]) -> None:
        stmts: list[tuple[str, tuple[Any, ...]]] = [
            ("UPDATE batches SET submitted=? WHERE batch_id=?", (time.time(), batch_id))
        ]
        stmts += [
            (
                "UPDATE procs SET job_id=?, state='submitted' WHERE batch_id=? AND element=? AND state='intent'",
                (jid, batch_id, i),
            )
            for i, jid in enumerate(element_job_ids)
        ]
        self._tx(stmts)

    def mark_closed(self, process_id: str, closed_as: str) -> bool:
        """True if this call closed it (False: it was already closed, so nothing must be sent)."""
        with self._lock:
            cur = self._db.execute(
                "UPDATE procs SET state='closed', closed_as=?, closed_at=? WHERE process_id=? AND state!='closed'",
                (closed_as, time.time(), process_id),
            )
            return cur.rowcount == 1

    def supersede(self, process_id: str) -> None:
        """ColonyOS assigned this process again (its exec deadline passed): keep the old attempt
        under another key so the new attempt gets a fresh row."""
        self._tx(
            [
                (
                    "UPDATE procs SET process_id=process_id || '#' || CAST(rowid AS TEXT), state='closed', "
                    "closed_as=COALESCE(closed_as, 'superseded'), closed_at=COALESCE(closed_at, ?) "
                    "WHERE process_id=?",
                    (time.time(), process_id),
                )
            ]
        )

    def set_log_offset(self, path: str, offset: int) -> None:
        self._tx(
            [
                (
                    "INSERT INTO log_offsets VALUES (?,?) ON CONFLICT(path) DO UPDATE SET offset=excluded.offset",
                    (path, offset),
                )
            ]
        )

    # -- reads ------------------------------------------------------------------------------
    def log_offset(self, path: str) -> int:
        rows = self._query("SELECT offset FROM log_offsets WHERE path=?", (path,))
        return rows[0][0] if rows else 0

    def knows(self, process_id: str) -> bool:
        return bool(self._query("SELECT 1 FROM procs WHERE process_id=?", (process_id,)))

    def proc(self, process_id: str) -> ProcRow | None:
        rows = self._query(f"SELECT {_PROC_COLS} FROM procs WHERE process_id=?", (process_id,))
        return _proc(rows[0]) if rows else None

    def open_procs(self) -> list[ProcRow]:
        return [_proc(r) for r in self._query(f"SELECT {_PROC_COLS} FROM procs WHERE state!='closed'")]

    def procs_of_batch(self, batch_id: str) -> list[ProcRow]:
        rows = self._query(f"SELECT {_PROC_COLS} FROM procs WHERE batch_id=? ORDER BY element", (batch_id,))
        return [_proc(r) for r in rows]

    def unsubmitted_batches(self) -> list[BatchRow]:
        return [_batch(r) for r in self._query(f"SELECT {_BATCH_COLS} FROM batches WHERE submitted IS NULL")]

    def batch(self, batch_id: str) -> BatchRow | None:
        rows = self._query(f"SELECT {_BATCH_COLS} FROM batches WHERE batch_id=?", (batch_id,))
        return _batch(rows[0]) if rows else None

    def counts(self) -> dict[str, int]:
        out = dict(self._query("SELECT state, COUNT(*) FROM procs GROUP BY state"))
        out["batches"] = self._query("SELECT COUNT(*) FROM batches")[0][0]
        return out


_PROC_COLS = "process_id, batch_id, element, funcname, task, job_id, state, closed_as, assigned"
_BATCH_COLS = "batch_id, job_name, backend, folder, params, elements, created, submitted"


def _proc(r: tuple) -> ProcRow:
    row = dict(zip(_PROC_COLS.split(", "), r, strict=True))
    return ProcRow(**{**row, "task": json.loads(row["task"])})


def _batch(r: tuple) -> BatchRow:
    row = dict(zip(_BATCH_COLS.split(", "), r, strict=True))
    return BatchRow(**{**row, "params": json.loads(row["params"])})
