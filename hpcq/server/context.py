"""The server context every handler gets (``Ctx``: the database, the owner's id and the
settings), and the data dir it is opened from: the file names in it, the server key and the
one-server-per-data-dir guard. Built from ``hpcq.config.ServerSettings`` by ``open_ctx``."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from hpcq.colonyos.signing import SignatureError, id_from_prvkey, new_prvkey
from hpcq.config import ServerSettings, check_private_file, write_private_file
from hpcq.server.store import Store

DB_NAME = "colonies.db"
KEY_NAME = "server.key"
INFO_NAME = "server.json"
SWEEP_INTERVAL_S = 1.0  # timeouts, crons and generators are checked this often (the real server's period)


@dataclass
class Ctx:
    """What every handler needs: the database, who owns the server and its settings."""

    store: Store
    server_id: str
    settings: ServerSettings
    closing: bool = False  # set on shutdown: waiters answer 503 instead of touching the DB
    extra: dict = field(default_factory=dict)


def server_prvkey(data_dir: Path) -> str:
    """COLONIES_SERVER_PRVKEY if set, else the key generated once into <data_dir>/server.key.
    (The variable is read from the environment only, like every private key hpcq is given:
    docs/configuration.md.)"""
    env = os.environ.get("COLONIES_SERVER_PRVKEY", "").strip()
    if env:
        return env
    path = Path(data_dir) / KEY_NAME
    if path.exists():
        check_private_file(path)
        return path.read_text().strip()
    key = new_prvkey()
    write_private_file(path, key + "\n")
    return key


def running_pid(data_dir: Path) -> int | None:
    """pid of a live hpcq server that wrote <data_dir>/server.json, if any."""
    try:
        pid = int(json.loads((Path(data_dir) / INFO_NAME).read_text())["pid"])
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return pid if pid != os.getpid() and b"hpcq" in cmdline else None


def open_ctx(settings: ServerSettings) -> Ctx:
    """Open the data dir (created 0700) for serving: refuse if another server serves it, load or
    make the server key, open the database and record the owner's id in it."""
    data_dir = Path(settings.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)  # specs and logs: owner only
    other = running_pid(data_dir)
    if other:
        raise SystemExit(
            f"another hpcq server (pid {other}) is serving {data_dir}; stop it first or use another --data-dir"
        )
    try:
        server_id = id_from_prvkey(server_prvkey(data_dir))
    except SignatureError as exc:
        raise SystemExit(f"COLONIES_SERVER_PRVKEY / {data_dir / KEY_NAME}: {exc}") from None
    store = Store(data_dir / DB_NAME)
    with store.lock, store.tx():
        store.meta_set("serverid", server_id)
    return Ctx(store=store, server_id=server_id, settings=settings)
