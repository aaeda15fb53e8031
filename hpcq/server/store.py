"""SQLite persistence (WAL). Every object is kept as its JSON document plus the columns that
queries filter or sort on, so a restart (or a SIGKILL) keeps everything that was committed.

One connection guarded by one lock: every RPC runs as a single transaction under that lock,
which is what makes the assign pick atomic and keeps the database consistent whatever the input.
A second connection, in a thread of its own, only checkpoints the WAL (outside that lock).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS colonies (name TEXT PRIMARY KEY, colonyid TEXT NOT NULL, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS executors (
    colonyname TEXT NOT NULL, executorname TEXT NOT NULL, executorid TEXT NOT NULL,
    executortype TEXT NOT NULL, state INTEGER NOT NULL, lastheard INTEGER NOT NULL DEFAULT 0,
    doc TEXT NOT NULL, PRIMARY KEY (colonyname, executorname));
CREATE INDEX IF NOT EXISTS executors_id ON executors (executorid);
CREATE TABLE IF NOT EXISTS users (
    colonyname TEXT NOT NULL, name TEXT NOT NULL, userid TEXT NOT NULL, doc TEXT NOT NULL,
    PRIMARY KEY (colonyname, name));
CREATE INDEX IF NOT EXISTS users_id ON users (userid);
CREATE TABLE IF NOT EXISTS processes (
    processid TEXT PRIMARY KEY, colonyname TEXT NOT NULL, state INTEGER NOT NULL,
    executortype TEXT NOT NULL, isassigned INTEGER NOT NULL, waitforparents INTEGER NOT NULL,
    prioritytime INTEGER NOT NULL, processgraphid TEXT NOT NULL, submissiontime INTEGER NOT NULL,
    starttime INTEGER NOT NULL, endtime INTEGER NOT NULL, waitdeadline INTEGER NOT NULL,
    execdeadline INTEGER NOT NULL, maxwaittime INTEGER NOT NULL, maxexectime INTEGER NOT NULL,
    label TEXT NOT NULL, initiatorname TEXT NOT NULL, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS processes_pick ON processes (colonyname, executortype, state, prioritytime);
CREATE INDEX IF NOT EXISTS processes_state ON processes (state);
CREATE INDEX IF NOT EXISTS processes_graph ON processes (processgraphid);
CREATE TABLE IF NOT EXISTS graphs (
    processgraphid TEXT PRIMARY KEY, colonyname TEXT NOT NULL, state INTEGER NOT NULL,
    submissiontime INTEGER NOT NULL, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS attributes (
    attributeid TEXT PRIMARY KEY, targetid TEXT NOT NULL, seq INTEGER NOT NULL, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS attributes_target ON attributes (targetid, seq);
CREATE TABLE IF NOT EXISTS logs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, colonyname TEXT NOT NULL, processid TEXT NOT NULL,
    executorname TEXT NOT NULL, timestamp INTEGER NOT NULL, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS logs_process ON logs (processid, timestamp);
CREATE INDEX IF NOT EXISTS logs_executor ON logs (colonyname, executorname, timestamp);
CREATE TABLE IF NOT EXISTS functions (
    functionid TEXT PRIMARY KEY, colonyname TEXT NOT NULL, executorname TEXT NOT NULL,
    funcname TEXT NOT NULL, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    fileid TEXT PRIMARY KEY, colonyname TEXT NOT NULL, label TEXT NOT NULL, name TEXT NOT NULL,
    sequencenr INTEGER NOT NULL, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS files_label ON files (colonyname, label, name);
CREATE TABLE IF NOT EXISTS crons (
    cronid TEXT PRIMARY KEY, colonyname TEXT NOT NULL, name TEXT NOT NULL, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS generators (
    generatorid TEXT PRIMARY KEY, colonyname TEXT NOT NULL, name TEXT NOT NULL, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS generator_args (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, generatorid TEXT NOT NULL, arg TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS generator_args_gen ON generator_args (generatorid, seq);
CREATE TABLE IF NOT EXISTS blueprint_definitions (
    colonyname TEXT NOT NULL, name TEXT NOT NULL, kind TEXT NOT NULL, doc TEXT NOT NULL,
    PRIMARY KEY (colonyname, name));
CREATE TABLE IF NOT EXISTS blueprints (
    blueprintid TEXT PRIMARY KEY, colonyname TEXT NOT NULL, name TEXT NOT NULL, kind TEXT NOT NULL,
    locationname TEXT NOT NULL, doc TEXT NOT NULL, UNIQUE (colonyname, name));
CREATE TABLE IF NOT EXISTS blueprint_history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, blueprintid TEXT NOT NULL, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS snapshots (
    snapshotid TEXT PRIMARY KEY, colonyname TEXT NOT NULL, name TEXT NOT NULL, doc TEXT NOT NULL,
    UNIQUE (colonyname, name));
"""


CHECKPOINT_INTERVAL_S = 1.0
_PROCESS_COLS = [
    "processid",
    "colonyname",
    "state",
    "executortype",
    "isassigned",
    "waitforparents",
    "prioritytime",
    "processgraphid",
    "submissiontime",
    "starttime",
    "endtime",
    "waitdeadline",
    "execdeadline",
    "maxwaittime",
    "maxexectime",
    "label",
    "initiatorname",
    "doc",
]
# An upsert updates the row in place; INSERT OR REPLACE deletes and re-inserts it (about 20% more
# CPU per process write, measured with this schema).
_PUT_PROCESS = (
    f"INSERT INTO processes ({', '.join(_PROCESS_COLS)}) VALUES ({','.join('?' * len(_PROCESS_COLS))})"
    f" ON CONFLICT(processid) DO UPDATE SET {', '.join(f'{c}=excluded.{c}' for c in _PROCESS_COLS[1:])}"
)


def dumps(doc: Any) -> str:
    return json.dumps(doc, separators=(",", ":"))


class Store:
    """The database plus the lock/condition that serialise RPCs and wake long-polling assigners."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False, timeout=30)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a committed transaction survives a crash of this process (SIGKILL);
        # only an OS crash/power loss can lose the last commits.
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA foreign_keys=OFF")
        # Checkpoints (copying the WAL back into the database, with its fsyncs) run on a second
        # connection in a thread of their own, not inside a request's COMMIT under the store lock
        # (SQLite's automatic checkpoint would run there every 1000 pages).
        self.db.execute("PRAGMA wal_autocheckpoint=0")
        self.db.executescript(SCHEMA)
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self._stop = threading.Event()
        self._checkpointer = threading.Thread(target=self._checkpoint_loop, name="wal-checkpoint", daemon=True)
        self._checkpointer.start()

    def _checkpoint_loop(self) -> None:
        con = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False, timeout=30)
        try:
            while not self._stop.wait(CHECKPOINT_INTERVAL_S):
                # PASSIVE: never waits for, nor blocks, the writer; busy or closing: the next round
                # (or the last close) does it
                with contextlib.suppress(sqlite3.Error):
                    con.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        finally:
            con.close()

    def close(self) -> None:
        self._stop.set()
        self._checkpointer.join(timeout=10)
        with self.lock:
            self.db.close()  # the last connection to close checkpoints the rest

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction; the caller must hold ``self.lock``. Rolls back on any error."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # --- small helpers -------------------------------------------------------------------
    def one(self, sql: str, *args: Any) -> dict | None:
        row = self.db.execute(sql, args).fetchone()
        return json.loads(row["doc"]) if row else None

    def all(self, sql: str, *args: Any) -> list[dict]:
        return [json.loads(r["doc"]) for r in self.db.execute(sql, args)]

    def scalar(self, sql: str, *args: Any) -> Any:
        row = self.db.execute(sql, args).fetchone()
        return row[0] if row else None

    def meta_get(self, key: str) -> str | None:
        return self.scalar("SELECT value FROM meta WHERE key=?", key)

    def meta_set(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def next_seq(self, name: str) -> int:
        n = int(self.meta_get(f"seq:{name}") or 0) + 1
        self.meta_set(f"seq:{name}", str(n))
        return n

    # --- processes (the hot path) -----------------------------------------------------------
    def put_process(self, p: dict) -> None:
        spec = p["spec"]
        self.db.execute(
            _PUT_PROCESS,
            (
                p["processid"],
                spec["conditions"]["colonyname"],
                p["state"],
                spec["conditions"]["executortype"],
                int(p["isassigned"]),
                int(p["waitforparents"]),
                p["prioritytime"],
                p["processgraphid"],
                p["submissiontime"],
                p["starttime"],
                p["endtime"],
                p["waitdeadline"],
                p["execdeadline"],
                spec["maxwaittime"],
                spec["maxexectime"],
                spec.get("label") or "",
                p["initiatorname"],
                dumps(p),
            ),
        )

    def get_process(self, processid: str) -> dict | None:
        return self.one("SELECT doc FROM processes WHERE processid=?", processid)
