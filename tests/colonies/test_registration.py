"""Executor registration against the real colonies default (issue 21, item 4; docs/executor.md, "Registration").

colonies v1.9.12's binary refuses ``addexecutormsg`` for a name the colony already has
(COLONIES_ALLOW_EXECUTOR_REREGISTER=false), lets only approved members ``getexecutormsg``, and
removes stale executors (no assign for COLONIES_STALE_EXECUTOR_DURATION seconds) by marking them
UNREGISTERED: the record and its name stay, and its RUNNING processes go back to the queue. Each case
runs on that real server with its default (the session's ``real_colonies_server``, no COLONIES_*
override; a fresh colony per test) and on hpcq's embedded server started with ``--no-reregister``;
where the two servers differ, the test says what each does. The daemon's rejoin is also checked on
the fakes (hpcq.testing.fakes), where a held job's close can be followed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hpcq.colonyos import ExecutorState, ProcessState, client, is_name_taken, is_not_member
from hpcq.colonyos.signing import id_from_prvkey, new_prvkey
from hpcq.config import ConfigError, Settings
from hpcq.executor.daemon import Executor, Paths
from hpcq.executor.identity import REREGISTER_ENV, ensure_registered, load_or_create_key
from hpcq.testing import wait_for
from hpcq.testing.fakes import HOLD, FakeBackend, FakeColony, make_executor, serving
from hpcq.testing.server import make_server

pytestmark = pytest.mark.real_colonies
KINDS = ("colonies", "embedded")


@dataclass
class Side:
    """One colony on one server: its settings (colony key, user key) and a client."""

    kind: str
    settings: Settings
    user_env: dict[str, str]

    @property
    def c(self) -> Any:
        return client(self.settings.host, self.settings.port)

    @property
    def colony(self) -> str:
        return self.settings.colony_name

    def record(self, name: str) -> dict[str, Any]:
        """The executor's record as the colony's user sees it (any state)."""
        return self.c.get_executor(self.colony, name, self.settings.prvkey)

    def register(self, state_dir: Path, name: str, executor_type: str = "t", **kw: Any):
        return ensure_registered(self.settings, self.c, state_dir, executor_type, name, **kw)


def _settings(host: str, port: int, env: dict[str, str]) -> Settings:
    return Settings(
        host=host,
        port=port,
        colony_name=env["COLONIES_COLONY_NAME"],
        colony_prvkey=env["COLONIES_COLONY_PRVKEY"],
        prvkey=env["COLONIES_PRVKEY"],
    )


@pytest.fixture(params=KINDS)
def side(request, tmp_path, monkeypatch):
    monkeypatch.delenv("HPCQ_EXECUTOR_PRVKEY", raising=False)
    if request.param == "colonies":
        srv = request.getfixturevalue("real_colonies_server")
        assert REREGISTER_ENV not in srv.env  # the binary's default: re-registration refused
        env = srv.new_colony()
        yield Side("colonies", _settings(srv.host, srv.port, env), env)
        return
    srv = make_server(tmp_path / "embedded", ["--no-reregister"])
    try:
        yield Side("embedded", _settings(srv.host, srv.port, srv.env), srv.env)
    finally:
        srv.close()


def test_fresh_registration_and_restart_with_the_same_key(side, tmp_path):
    a = side.register(tmp_path / "a", "ex", locationname="site-a", capabilities={"hardware": [{"model": "login"}]})
    rec = side.record("ex")
    assert rec["executorid"] == a.executor_id and rec["state"] == ExecutorState.APPROVED
    assert rec.get("locationname") == "site-a" and rec["capabilities"]["hardware"][0]["model"] == "login"
    again = side.register(tmp_path / "a", "ex", locationname="site-a")  # a restart: nothing to change
    assert again.executor_id == a.executor_id and again.self_registered
    assert side.c.get_executor(side.colony, "ex", a.prvkey)["state"] == ExecutorState.APPROVED


def test_lost_key_is_refused_with_the_fix_and_replace_takes_over_where_the_server_allows(side, tmp_path):
    old = side.register(tmp_path / "a", "ex")
    (tmp_path / "a" / "executor.key").unlink()  # lost or recreated
    with pytest.raises(ConfigError) as err:
        side.register(tmp_path / "a", "ex")
    assert "already registered" in str(err.value) and "--replace" in str(err.value) and "--name" in str(err.value)
    assert side.record("ex")["executorid"] == old.executor_id  # untouched
    new_id = id_from_prvkey(load_or_create_key(tmp_path / "a"))
    if side.kind == "colonies":  # a removed name stays taken: replacing is impossible on this server
        with pytest.raises(ConfigError) as err:
            side.register(tmp_path / "a", "ex", replace=True)
        assert REREGISTER_ENV in str(err.value) and "another --name" in str(err.value)
        assert side.record("ex")["state"] == ExecutorState.UNREGISTERED  # the old one is removed, as it says
        assert "old record is now removed" in str(err.value)
    else:  # the embedded server deletes a removed executor: remove + add works
        new = side.register(tmp_path / "a", "ex", replace=True)
        rec = side.record("ex")
        assert new.executor_id == new_id == rec["executorid"] and rec["state"] == ExecutorState.APPROVED


@pytest.mark.parametrize("change", ["type", "location"])
def test_changed_type_or_location_is_refused_and_replace_follows_the_server(side, tmp_path, change):
    side.register(tmp_path / "a", "ex", "t1", locationname="l1")
    asked = (
        {"executor_type": "t2", "locationname": "l1"}
        if change == "type"
        else {"executor_type": "t1", "locationname": "l2"}
    )
    with pytest.raises(ConfigError) as err:
        side.register(tmp_path / "a", "ex", **asked)
    assert f"{change} " in str(err.value) and "--replace" in str(err.value)
    if side.kind == "colonies":
        with pytest.raises(ConfigError) as err:
            side.register(tmp_path / "a", "ex", replace=True, **asked)
        assert REREGISTER_ENV in str(err.value)
        rec = side.record("ex")  # our previous registration is back and serves as before
        assert rec["executortype"] == "t1" and rec["state"] == ExecutorState.APPROVED
        side.register(tmp_path / "a", "ex", "t1", locationname="l1")
    else:
        side.register(tmp_path / "a", "ex", replace=True, **asked)
        rec = side.record("ex")
        assert (rec["executortype"], rec.get("locationname")) == (asked["executor_type"], asked["locationname"])
        assert rec["state"] == ExecutorState.APPROVED


def test_crash_between_add_and_approve_is_approved_at_restart(side, tmp_path):
    key = load_or_create_key(tmp_path / "a")
    side.c.add_executor(
        {"executorname": "ex", "executorid": id_from_prvkey(key), "colonyname": side.colony, "executortype": "t"},
        side.settings.colony_prvkey,
    )
    with pytest.raises(Exception) as pending:  # a pending member may not even read its own record
        side.c.get_executor(side.colony, "ex", key)
    assert is_not_member(pending.value)
    side.register(tmp_path / "a", "ex")
    assert side.c.get_executor(side.colony, "ex", key)["state"] == ExecutorState.APPROVED


def test_a_second_host_with_the_same_name_stops_and_the_first_keeps_serving(side, tmp_path):
    first = side.register(tmp_path / "host1", "hpcq-login")
    with pytest.raises(ConfigError) as err:
        side.register(tmp_path / "host2", "hpcq-login")
    assert "another host" in str(err.value) and "--name hpcq-login-2" in str(err.value)
    rec = side.c.get_executor(side.colony, "hpcq-login", first.prvkey)
    assert rec["executorid"] == first.executor_id and rec["state"] == ExecutorState.APPROVED
    with pytest.raises(Exception) as refused:  # the second one never became a member
        side.c.assign(side.colony, 1, load_or_create_key(tmp_path / "host2"))
    assert is_not_member(refused.value)


def test_one_state_dir_cannot_serve_two_names(side, tmp_path):
    side.register(tmp_path / "a", "ex")
    with pytest.raises(ConfigError, match="--name ex"):
        side.register(tmp_path / "a", "other")


def test_pre_approved_key_removed_stops_with_the_owners_fix(side, tmp_path, monkeypatch):
    prv = new_prvkey()
    side.c.add_executor(
        {"executorname": "pre", "executorid": id_from_prvkey(prv), "colonyname": side.colony, "executortype": "t"},
        side.settings.colony_prvkey,
    )
    side.c.approve_executor(side.colony, "pre", side.settings.colony_prvkey)
    settings = side.settings.model_copy(update={"colony_prvkey": ""})  # the executor has no colony key
    settings.executor = settings.executor.model_copy(update={"type": "t", "backend": "local"})
    ex = Executor(settings, Paths.under(tmp_path / "pre"), name="pre", executor_prvkey=prv, backend=FakeBackend())
    ex.setup()
    assert not ex.ident.self_registered
    side.c.remove_executor(side.colony, "pre", side.settings.colony_prvkey)  # as the stale cleanup does
    with pytest.raises(ConfigError) as err:
        ex.run()  # the first assign is refused: the loop stops, naming the fix
    assert "colonies executor approve --name pre" in str(err.value)
    with pytest.raises(ConfigError, match="colonies executor approve --name pre"):  # and so does a restart
        ensure_registered(settings, side.c, tmp_path / "pre", "t", "pre", prv)


def test_removed_self_registered_executor_rejoins_in_the_loop(side, tmp_path):
    """The daemon's assign is refused ("not a member") after the removal: it registers again with the
    same key and serves on; the functions it advertised are back."""
    settings = side.settings.model_copy()
    settings.executor = settings.executor.model_copy(update={"type": "t", "assign_timeout_s": 1})
    ex = Executor(settings, Paths.under(tmp_path / "a"), name="ex", backend=FakeBackend())
    ex.setup()
    key = ex.ident
    side.c.remove_executor(side.colony, "ex", side.settings.colony_prvkey)

    def rejoined() -> bool:
        try:
            rec = side.record("ex")
        except Exception:  # noqa: BLE001 - the embedded server deletes a removed executor
            return False
        return rec["state"] == ExecutorState.APPROVED and rec["executorid"] == key.executor_id

    with serving(ex, join_s=20):
        wait_for(rejoined, 30, 0.1, "the executor registered again")
        wait_for(lambda: side.c.get_functions_by_executor(side.colony, "ex", key.prvkey), 10, 0.1, "functions")
        assert ex.ident.executor_id == key.executor_id  # the same identity: its jobs are still its own


def test_running_process_of_a_removed_executor_after_the_rejoin(side, tmp_path):
    """What becomes of a process the executor was running when it was removed: both servers put it
    back in the queue (colonies v1.9.12 RemoveExecutorByName; the embedded server does the same since
    the failover work), so the old assignee's close is refused and the process is assigned again,
    here to the rejoined executor (any executor its conditions allow could take it: failover)."""
    from pycolonies import func_spec

    key = side.register(tmp_path / "a", "ex").prvkey
    spec = func_spec(func="hpcq_echo", args=[], kwargs={}, colonyname=side.colony, executortype="t", maxexectime=60)
    pid = side.c.submit_func_spec(spec, side.settings.prvkey).processid
    assert side.c.assign(side.colony, 5, key).processid == pid
    side.c.remove_executor(side.colony, "ex", side.settings.colony_prvkey)
    side.register(tmp_path / "a", "ex")  # what the daemon's _rejoin does
    p = side.c.get_process(pid, side.settings.prvkey)
    assert p.state == ProcessState.WAITING and not p.isassigned and p.retries == 0
    with pytest.raises(Exception):  # noqa: B017 - the server's refusal (403 or 400): not the assignee now
        side.c.close(pid, ["late"], key)
    assert side.c.assign(side.colony, 5, key).processid == pid  # served again, by the rejoined executor
    side.c.close(pid, ["done"], key)
    assert side.c.get_process(pid, side.settings.prvkey).state == ProcessState.SUCCESS


def test_stale_removal_by_the_real_server_and_the_restart(real_colonies_factory, tmp_path, monkeypatch):
    """colonies removes an executor not heard from (assign) for COLONIES_STALE_EXECUTOR_DURATION
    seconds (checked every COLONIES_CLEANUP_INTERVAL seconds): the record stays, UNREGISTERED, and the
    key is refused; a self-registered executor's restart approves it again."""
    monkeypatch.delenv("HPCQ_EXECUTOR_PRVKEY", raising=False)
    srv = real_colonies_factory(COLONIES_STALE_EXECUTOR_DURATION="1", COLONIES_CLEANUP_INTERVAL="1")
    assert REREGISTER_ENV not in srv.env
    env = srv.new_colony()
    side = Side("colonies", _settings(srv.host, srv.port, env), env)
    key = side.register(tmp_path / "a", "ex").prvkey
    with pytest.raises(Exception, match="No process available"):  # heard from: the stale clock starts
        side.c.assign(side.colony, 1, key)
    wait_for(lambda: side.record("ex")["state"] == ExecutorState.UNREGISTERED, 20, 0.2, "the stale removal")
    with pytest.raises(Exception) as refused:
        side.c.assign(side.colony, 1, key)
    assert is_not_member(refused.value)
    side.register(tmp_path / "a", "ex")
    with pytest.raises(Exception, match="No process available"):
        side.c.assign(side.colony, 1, key)


def test_rejoin_on_the_fakes_closes_the_running_job(tmp_path, monkeypatch):
    """The daemon removed mid-job (the fake colony keeps the assignment, unlike both servers, which
    re-queue it: test_running_process_of_a_removed_executor_after_the_rejoin): the loop rejoins and the watcher's
    close, refused while removed, goes through after."""
    monkeypatch.delenv("HPCQ_EXECUTOR_PRVKEY", raising=False)
    colony, backend = FakeColony(), FakeBackend()
    backend.script(HOLD)
    pid = colony.submit("hpcq_echo", {"message": "still mine"})
    with serving(make_executor(tmp_path, backend, colony)) as run:
        wait_for(lambda: backend.jobs_of(pid), 10, 0.01, "the job")
        job = backend.jobs_of(pid)[0]
        colony.remove_executor(colony.colony, "fake-exec", colony.colony_prvkey)
        wait_for(lambda: colony.executors.get("fake-exec", {}).get("state") == 1, 10, 0.01, "the rejoin")
        backend.extend(job.job_id, "COMPLETED")
        wait_for(lambda: colony.state(pid) == ProcessState.SUCCESS, 20, 0.01, "the close")
    assert run.executor.ident.self_registered


def test_error_classification_of_both_servers():
    for text in (
        "Access denied, not a member of Colony with name <c>",  # colonies v1.9.12, pending or unknown
        "Access denied, not member of colony",  # embedded
        "Access denied, executor is not approved",  # embedded, pending
    ):
        assert is_not_member(Exception(text))
    assert not is_not_member(Exception("Access denied, not assigned executor of process"))
    assert is_name_taken(Exception("Executor with name <x> in Colony <c> already exists"))
    assert is_name_taken(Exception("Executor with name <x> already exists in colony <c>"))
    assert not is_name_taken(Exception("No process available for assignment"))
