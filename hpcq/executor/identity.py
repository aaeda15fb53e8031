"""Who the executor is in the colony: its key, name and registration.

Two ways in, as the upstream ColonyOS HPC executor does it:
- a pre-approved executor key (``HPCQ_EXECUTOR_PRVKEY``; deliberately no command-line option, which
  ``ps`` would show), registered by the colony owner beforehand; or
- self-registration with the colony key (COLONIES_COLONY_PRVKEY): the executor creates its own
  key once, keeps it in ``<state_dir>/executor.key`` (0600) so that a restarted executor is the
  same executor (it must be, to close the processes it was assigned), then add + approve.
COLONIES_PRVKEY in a client env file is a *user* key; it is used as the executor key only when
no colony key is given.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hpcq.colonyos import ExecutorState
from hpcq.colonyos.signing import FastCrypto, new_prvkey
from hpcq.config import ConfigError, Settings, check_private_file, write_private_file

log = logging.getLogger("hpcq.executor")


@dataclass
class ExecutorKey:
    name: str
    prvkey: str
    executor_id: str
    executor_type: str


def _id(prvkey: str) -> str:
    return FastCrypto().id(prvkey)  # pycolonies' Crypto on libsecp256k1, same ids and errors


def default_name() -> str:
    return f"hpcq-{socket.gethostname().split('.')[0]}"


def load_or_create_key(state_dir: Path) -> str:
    path = Path(state_dir) / "executor.key"
    if path.exists():
        check_private_file(path)
        key = path.read_text().strip()
        if len(key) != 64:
            raise ConfigError(f"{path} does not hold a 64-hex private key; delete it to create a new one")
        return key
    key = new_prvkey()  # made as pycolonies makes one
    write_private_file(path, key + "\n")
    return key


def ensure_registered(
    settings: Settings,
    client: Any,
    state_dir: Path,
    executor_type: str,
    name: str | None,
    executor_prvkey: str | None = None,
    locationname: str = "",
    capabilities: dict | None = None,
) -> ExecutorKey:
    """Return a working, approved executor identity (registering it through ``client``, a
    pycolonies ``Colonies``, when we hold the colony key)."""
    settings.require("colony_name")
    name = name or settings.executor_name or default_name()
    pre = executor_prvkey or os.environ.get("HPCQ_EXECUTOR_PRVKEY", "")
    if pre or not settings.colony_prvkey:
        key = pre or settings.prvkey
        if not key:
            raise ConfigError(
                "no executor identity: set COLONIES_COLONY_PRVKEY (self-registration) or pass "
                "HPCQ_EXECUTOR_PRVKEY (an executor approved by the colony owner)"
            )
        return ExecutorKey(name=name, prvkey=key, executor_id=_id(key), executor_type=executor_type)
    key = load_or_create_key(state_dir)
    eid = _id(key)
    try:
        ex = client.get_executor(settings.colony_name, name, key)
        known = (
            ex.get("executorid") == eid
            and ex.get("state") == ExecutorState.APPROVED
            and ex.get("executortype") == executor_type
        )
    except Exception:  # noqa: BLE001 - not registered yet (or not a member yet)
        known = False
    if not known:
        try:
            client.add_executor(
                {
                    "executorname": name,
                    "executorid": eid,
                    "colonyname": settings.colony_name,
                    "executortype": executor_type,
                    "locationname": locationname,
                    "capabilities": capabilities or {},
                },
                settings.colony_prvkey,
            )
            client.approve_executor(settings.colony_name, name, settings.colony_prvkey)
        except Exception as exc:  # noqa: BLE001
            raise ConfigError(
                f"could not register executor {name!r} in colony {settings.colony_name!r}: {exc}. "
                "Fix: check COLONIES_COLONY_PRVKEY, or pick another --name"
            ) from None
        log.info("registered executor %s (type %s) in colony %s", name, executor_type, settings.colony_name)
    return ExecutorKey(name=name, prvkey=key, executor_id=eid, executor_type=executor_type)


def register_functions(client, colony: str, ident: ExecutorKey, names: list[str]) -> None:
    """Advertise the catalog (add_function); an already registered function is fine."""
    try:
        have = {f.get("funcname") for f in (client.get_functions_by_executor(colony, ident.name, ident.prvkey) or [])}
    except Exception:  # noqa: BLE001
        have = set()
    for fn in names:
        if fn in have:
            continue
        try:
            client.add_function(colony, ident.name, fn, ident.prvkey)
        except Exception as exc:  # noqa: BLE001
            log.warning("add_function %s failed: %s", fn, exc)
