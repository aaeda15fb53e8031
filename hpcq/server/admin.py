"""`hpcq server init`: create a colony and a user directly in the data dir's database (no running
server needed; safe while one runs, SQLite serialises the writers) and write the env file."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

from hpcq.config import write_env_file
from hpcq.server.httpd import DB_NAME, INFO_NAME, server_prvkey
from hpcq.server.signing import id_from_prvkey, new_prvkey
from hpcq.server.store import Store, dumps


class InitError(Exception):
    """init cannot proceed; the message says why and what to do."""


def running_address(data_dir: Path) -> tuple[str, int] | None:
    """(host, port) from <data_dir>/server.json if a server wrote one."""
    try:
        info = json.loads((Path(data_dir) / INFO_NAME).read_text())
        return info["host"], int(info["port"])
    except (OSError, ValueError, KeyError):
        return None


def init_data_dir(data_dir: Path, colony: str = "dev", host: str | None = None,
                  port: int | None = None, executor_name: str | None = None,
                  user_name: str = "hpcq-user") -> dict[str, str]:
    """Create colony + user; return the COLONIES_* values (server key excluded)."""
    data_dir = Path(data_dir)
    if not colony or not colony.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise InitError(f"invalid colony name {colony!r}: use letters, digits, '-', '_' or '.'")
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    server_prvkey(data_dir)  # make sure the server key exists (generated once, 0600)
    colony_prv, user_prv = new_prvkey(), new_prvkey()
    colony_id, user_id = id_from_prvkey(colony_prv), id_from_prvkey(user_prv)
    store = Store(data_dir / DB_NAME)
    try:
        with store.lock, store.tx():
            if store.scalar("SELECT 1 FROM colonies WHERE name=?", colony):
                raise InitError(
                    f"colony {colony!r} already exists in {data_dir}; its private key is only in "
                    "the env file written when it was created. Use that file, or pick another "
                    "name with --colony")
            store.db.execute("INSERT INTO colonies (name, colonyid, doc) VALUES (?,?,?)",
                             (colony, colony_id, dumps({"colonyid": colony_id, "name": colony})))
            store.db.execute(
                "INSERT INTO users (colonyname, name, userid, doc) VALUES (?,?,?,?)",
                (colony, user_name, user_id, dumps({"colonyname": colony, "userid": user_id,
                                                    "name": user_name, "email": "", "phone": ""})))
    finally:
        store.close()
    addr = running_address(data_dir)
    host = host or (addr[0] if addr else os.environ.get("COLONIES_SERVER_HOST", "127.0.0.1"))
    port = port or (addr[1] if addr else int(os.environ.get("COLONIES_SERVER_PORT", "50080")))
    return {
        "COLONIES_SERVER_HOST": host,
        "COLONIES_SERVER_PORT": str(port),
        "COLONIES_SERVER_TLS": "false",
        "COLONIES_COLONY_NAME": colony,
        "COLONIES_COLONY_PRVKEY": colony_prv,
        "COLONIES_PRVKEY": user_prv,
        "COLONIES_EXECUTOR_NAME": executor_name or f"hpcq-{socket.gethostname()}",
    }


def init_and_write(data_dir: Path, env_file: Path, **kw) -> dict[str, str]:
    values = init_data_dir(data_dir, **kw)
    write_env_file(Path(env_file), values)
    return values
