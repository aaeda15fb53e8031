"""hpcq.client.cancel against the embedded server: both paths, and processes that end meanwhile."""

from __future__ import annotations

import pytest
from pycolonies import ColoniesConnectionError, func_spec

from hpcq.client import cancel
from hpcq.colonyos import ProcessState as S
from hpcq.colonyos import client as hpcq_client
from hpcq.functions import HPCQ_CANCEL, decode_kwargs
from hpcq.results.records import Submission


@pytest.fixture
def setup(colonies_server):
    s = colonies_server
    e1 = s.add_executor("e1", "t")
    c = hpcq_client(s.handle.host, s.handle.port)
    up = s.user_prvkey
    pids = [c.submit_func_spec(func_spec(f"f{i}", [], "dev", "t"), up).processid for i in range(3)]
    sub = Submission(name="study", kind="sweep", colony="dev", processids=pids, executortype="t")
    yield c, up, e1, sub
    cancel._supported.clear()


def test_a_process_that_ends_meanwhile_is_skipped_and_the_rest_cancelled(setup, monkeypatch):
    c, up, e1, sub = setup
    first = c.assign("dev", 5, e1).processid  # running
    real = c.cancel_process

    def ends_first(pid, key):
        if pid == first:
            c.close(first, ["done"], e1)  # it finished between the state read and its cancel
        return real(pid, key)

    monkeypatch.setattr(c, "cancel_process", ends_first)
    report = cancel.cancel_submission(c, up, sub, submit=pytest.fail)
    assert report == {"cancelled": 2, "already_finished": 1}
    states = {pid: c.get_process(pid, up).state for pid in sub.processids}
    assert states == {pid: S.SUCCESS if pid == first else S.CANCELLED for pid in sub.processids}


def test_a_refusal_is_reported_after_the_others_are_cancelled(setup, monkeypatch):
    c, up, _, sub = setup
    real = c.cancel_process
    refused = sub.processids[0]

    def refuse_one(pid, key):
        if pid == refused:
            raise ColoniesConnectionError("Access denied")
        return real(pid, key)

    assert cancel.supports_cancel(c, up)
    monkeypatch.setattr(c, "cancel_process", refuse_one)
    with pytest.raises(cancel.CancelError, match=f"2 cancelled.*could not cancel 1: {refused}: Access denied"):
        cancel.cancel_submission(c, up, sub, submit=pytest.fail)
    assert [c.get_process(pid, up).state for pid in sub.processids] == [S.WAITING, S.CANCELLED, S.CANCELLED]


def test_without_server_cancel_waiting_are_removed_and_running_get_a_control_process(setup):
    c, up, e1, sub = setup
    running = c.assign("dev", 5, e1).processid
    cancel._supported[c.url] = False  # as a colonies v1.9.7 server answers the probe
    submitted = []
    report = cancel.cancel_submission(c, up, sub, submit=submitted.append)
    assert report == {"removed": 2, "cancel_requested": 1, "already_finished": 0}
    (spec,) = submitted
    assert spec["funcname"] == HPCQ_CANCEL and spec["conditions"]["executortype"] == "t"
    assert decode_kwargs(spec["kwargs"])["processids"] == [running]
    assert spec["conditions"]["executornames"] == ["e1"]  # only the executor running it can cancel it
