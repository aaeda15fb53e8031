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

from hpcq.colonyos import ExecutorState, is_missing, is_name_taken, is_not_member, is_unreachable
from hpcq.colonyos.signing import FastCrypto, new_prvkey
from hpcq.config import ConfigError, Settings, check_private_file, write_private_file

log = logging.getLogger("hpcq.executor")


@dataclass
class ExecutorKey:
    name: str
    prvkey: str
    executor_id: str
    executor_type: str
    self_registered: bool = False  # registered with the colony key (it may re-register itself)


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


REREGISTER_ENV = "COLONIES_ALLOW_EXECUTOR_REREGISTER"  # the colonies server's setting (binary default: false)


def owner_fix(colony: str, name: str) -> str:
    """What the colony owner runs to let a removed or pending executor serve again."""
    return (
        f"the colony owner re-approves it: `colonies executor approve --name {name}` (COLONIES_COLONY_NAME={colony}, "
        "with the colony's private key); on a server that deletes removed executors (hpcq's embedded "
        "server) add it again first: `colonies executor add ...` with the same executor id"
    )


def not_member_error(colony: str, name: str, exc: BaseException | str) -> ConfigError:
    """A pre-approved executor key (HPCQ_EXECUTOR_PRVKEY) that the colony no longer accepts."""
    return ConfigError(
        f"executor {name!r} is not an approved member of colony {colony!r} ({exc}): it was removed by the "
        "colony owner, or by the server as stale (no assign for COLONIES_STALE_EXECUTOR_DURATION, 600 s by "
        f"default), or it was never approved. hpcq cannot re-register an executor without the colony key. Fix: "
        f"{owner_fix(colony, name)}; or start the executor with COLONIES_COLONY_PRVKEY (self-registration)"
    )


def _wrap(what: str, name: str, colony: str, exc: BaseException) -> ConfigError:
    """An unexpected refusal (or an unreachable server: ``setup()`` retries those) as a ConfigError."""
    return ConfigError(
        f"could not {what} executor {name!r} in colony {colony!r}: {exc}. Fix: check COLONIES_COLONY_PRVKEY "
        "and the server address, or pick another --name"
    )


def _differs(rec: dict[str, Any], executor_type: str, locationname: str) -> str:
    """'' if ``rec`` is registered as asked, else what differs (type or location)."""
    diffs = []
    if rec.get("executortype") != executor_type:
        diffs.append(f"type {rec.get('executortype')!r} (asked: {executor_type!r})")
    if (rec.get("locationname") or "") != locationname:
        diffs.append(f"location {rec.get('locationname') or ''!r} (asked: {locationname!r})")
    return " and ".join(diffs)


def _check_pre_approved(client: Any, colony: str, ident: ExecutorKey) -> None:
    """A pre-approved key must still be an approved member (the server removes stale executors)."""
    try:
        client.get_executor(colony, ident.name, ident.prvkey)
    except Exception as exc:  # noqa: BLE001 - pycolonies wraps every error alike
        if is_not_member(exc) or is_missing(exc):  # removed: refused (colonies) or deleted (embedded)
            raise not_member_error(colony, ident.name, exc) from None
        if is_unreachable(exc):
            raise _wrap("check", ident.name, colony, exc) from None
        # e.g. a user key used as the executor key, or a name this key is not registered under:
        # the first assign tells
        log.warning("could not check executor %s in colony %s: %s", ident.name, colony, exc)


def ensure_registered(
    settings: Settings,
    client: Any,
    state_dir: Path,
    executor_type: str,
    name: str | None,
    executor_prvkey: str | None = None,
    *,
    locationname: str = "",
    capabilities: dict[str, Any] | None = None,
    replace: bool = False,
) -> ExecutorKey:
    """Return a working, approved executor identity (registering it through ``client``, a
    pycolonies ``Colonies``, when we hold the colony key).

    The decision (docs/executor.md, "Registration"), with the colony key and ``<state_dir>/executor.key``:
    our key's record in the colony is looked up with our own key (``getexecutorsmsg`` needs membership,
    not approval, so a pending or removed record is seen as well);
    - our record, as asked: approved if it is pending (a crash between add and approve) or removed
      (stale, or by the owner; colonies v1.9.12 keeps it as UNREGISTERED); rejected: refused;
    - our record with another type or ``locationname``: refused unless ``replace``;
    - our key registered under another name: refused (one state dir, one executor);
    - no record of ours and the name is free: add + approve;
    - no record of ours and the name is taken (another host with that name, or this host's key was
      lost): refused unless ``replace``.
    ``replace`` re-registers the name with this key and type (the caller asserts that the old executor
    is not serving): add; if refused, remove the old record and add again (which colonies v1.9.12 with
    COLONIES_ALLOW_EXECUTOR_REREGISTER=false still refuses: its removed names stay taken)."""
    settings.require("colony_name")
    colony = settings.colony_name
    name = name or settings.executor_name or default_name()
    pre = executor_prvkey or os.environ.get("HPCQ_EXECUTOR_PRVKEY", "")
    if pre or not settings.colony_prvkey:
        return _pre_approved(client, colony, name, pre or settings.prvkey, executor_type)
    key = load_or_create_key(state_dir)
    eid = _id(key)
    ident = ExecutorKey(name=name, prvkey=key, executor_id=eid, executor_type=executor_type, self_registered=True)
    record: dict[str, Any] = {
        "executorname": name,
        "executorid": eid,
        "colonyname": colony,
        "executortype": executor_type,
        "locationname": locationname,
    }
    if capabilities is not None:
        record["capabilities"] = capabilities
    reg = _Registrar(client, colony, settings.colony_prvkey, record, state_dir)
    mine = reg.own_record(key)
    if mine is not None:
        _keep_own_record(reg, mine, executor_type, locationname, replace)
        return ident
    if reg.name_taken():
        if not replace:
            raise _name_taken(name, colony, state_dir)
        reg.replace(ours=False)
        return ident
    reg.add()
    return ident


def _pre_approved(client: Any, colony: str, name: str, key: str, executor_type: str) -> ExecutorKey:
    """No colony key here: the identity is a key the colony owner registered and approved."""
    if not key:
        raise ConfigError(
            "no executor identity: set COLONIES_COLONY_PRVKEY (self-registration) or pass "
            "HPCQ_EXECUTOR_PRVKEY (an executor approved by the colony owner)"
        )
    ident = ExecutorKey(name=name, prvkey=key, executor_id=_id(key), executor_type=executor_type)
    _check_pre_approved(client, colony, ident)
    return ident


def _name_taken(name: str, colony: str, state_dir: Path) -> ConfigError:
    return ConfigError(
        f"executor name {name!r} is already registered in colony {colony!r} under another key: another "
        f"host serves as {name!r}, or this host's {Path(state_dir) / 'executor.key'} was lost or "
        f"recreated. Fix: a second host must use its own --name (e.g. --name {name}-2); if the old "
        f"key is lost and no executor runs as {name!r} any more, add --replace (on colonies v1.9.12 "
        f"also needs the server setting {REREGISTER_ENV}=true), or restore the key file"
    )


@dataclass
class _Registrar:
    """The colony-key side of self-registration (add, approve, remove) for one record."""

    client: Any
    colony: str
    colony_prvkey: str
    record: dict[str, Any]
    state_dir: Path

    @property
    def name(self) -> str:
        return str(self.record["executorname"])

    def own_record(self, key: str) -> dict[str, Any] | None:
        """Our key's record in the colony (any state), or None if the colony does not know our key."""
        try:
            executors = self.client.list_executors(self.colony, key) or []
        except Exception as exc:  # noqa: BLE001
            if is_not_member(exc):
                return None
            raise _wrap("look up", self.name, self.colony, exc) from None
        return next((e for e in executors if e.get("executorid") == self.record["executorid"]), None)

    def name_taken(self) -> bool:
        """Whether the colony has an executor of our name: get_executor with the colony key finds the
        record first (missing: "... is nil" / "not found") and then refuses the colony key (not a member)."""
        try:
            self.client.get_executor(self.colony, self.name, self.colony_prvkey)
        except Exception as exc:  # noqa: BLE001
            if is_missing(exc):
                return False
            if is_not_member(exc):
                return True
            raise _wrap("look up", self.name, self.colony, exc) from None
        return True  # a server that lets the colony owner read it

    def approve(self, why: str = "") -> None:
        try:
            self.client.approve_executor(self.colony, self.name, self.colony_prvkey)
        except Exception as exc:  # noqa: BLE001
            raise _wrap("approve", self.name, self.colony, exc) from None
        log.info("approved executor %s in colony %s%s", self.name, self.colony, f" ({why})" if why else "")

    def add(self) -> None:
        try:
            self.client.add_executor(self.record, self.colony_prvkey)
        except Exception as exc:  # noqa: BLE001
            if is_name_taken(exc):  # taken between our look-up and the add
                raise ConfigError(
                    f"executor name {self.name!r} was registered in colony {self.colony!r} by another key just "
                    f"now. Fix: start with another --name"
                ) from None
            raise _wrap("register", self.name, self.colony, exc) from None
        self.approve()
        log.info("registered executor %s (type %s) in colony %s", self.name, self.record["executortype"], self.colony)

    def replace(self, ours: bool) -> None:
        """Re-register our name with our record (--replace): the server may replace on add
        (re-registration allowed); else remove the old record and add again."""
        log.warning("replacing the registration of executor %s in colony %s (--replace)", self.name, self.colony)
        try:
            self.client.add_executor(self.record, self.colony_prvkey)
        except Exception as exc:  # noqa: BLE001
            if not is_name_taken(exc):
                raise _wrap("re-register", self.name, self.colony, exc) from None
            try:
                self.client.remove_executor(self.colony, self.name, self.colony_prvkey)
                self.client.add_executor(self.record, self.colony_prvkey)
            except Exception as exc2:  # noqa: BLE001
                if not is_name_taken(exc2):
                    raise _wrap("re-register", self.name, self.colony, exc2) from None
                if ours:  # put our previous registration back: it still serves as it did
                    self.approve("restoring the previous registration")
                raise ConfigError(
                    f"cannot replace executor {self.name!r} in colony {self.colony!r}: the server keeps the names "
                    f"of removed executors (colonies v1.9.12 with {REREGISTER_ENV}=false, its default)"
                    + ("" if ours else "; the old record is now removed and its running processes are queued again")
                    + f". Fix: start with another --name, or set {REREGISTER_ENV}=true on the server and "
                    "run with --replace again"
                ) from None
        self.approve("replaced")


def _keep_own_record(
    reg: _Registrar, mine: dict[str, Any], executor_type: str, locationname: str, replace: bool
) -> None:
    """Our key already has a record in the colony: use it (approving it when pending or removed),
    or refuse, naming the fix (another name, rejected, changed type/location without --replace)."""
    name, colony = reg.name, reg.colony
    if mine.get("executorname") != name:
        raise ConfigError(
            f"the key in {Path(reg.state_dir) / 'executor.key'} is registered as executor "
            f"{mine.get('executorname')!r} in colony {colony!r}, not {name!r}. Fix: start with "
            f"--name {mine.get('executorname')}, or give the second executor its own --state-dir"
        )
    state = mine.get("state")
    if state == ExecutorState.REJECTED:
        raise ConfigError(
            f"executor {name!r} was rejected by the owner of colony {colony!r}. Fix: the owner approves it "
            f"(`colonies executor approve --name {name}`), or start with another --name"
        )
    diff = _differs(mine, executor_type, locationname)
    if diff:
        if not replace:
            raise ConfigError(
                f"executor {name!r} is registered in colony {colony!r} with {diff}. Fix: start with the "
                f"registered --type/location, or another --name, or add --replace to re-register {name!r} "
                "(stop every executor running as it first)"
            )
        reg.replace(ours=True)
    elif state != ExecutorState.APPROVED:
        why = "pending (a crash between add and approve?)" if state == ExecutorState.PENDING else "removed"
        reg.approve(f"our record was {why}")


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
