"""Executor pieces that need no services: journal, packing, sacct parsing, file references,
resource rules, the in-job runner, and submitit's local backend (real subprocesses)."""

from __future__ import annotations

import hashlib
import sqlite3
import time
from pathlib import Path

import pytest

from hpcq.config import ExecutorSettings
from hpcq.executor import outputs
from hpcq.executor.backends.slurm import _expand, parse_sacct
from hpcq.executor.journal import BatchRow, Journal, ProcRow
from hpcq.executor.packing import Packer, elements
from hpcq.executor.resources import Plan, PlanError, check_rules
from hpcq.job.context import build_context, slurm_job_id
from hpcq.job.runner import BEGIN, run_tasks
from hpcq.job.task import Outcome, Task
from hpcq.testing import wait_for


# --- journal ---------------------------------------------------------------------------------------
def _batch(bid="b1", n=2) -> tuple[BatchRow, list[ProcRow]]:
    """A batch of ``n`` one-task elements; its processes are ``<bid>-p<i>``."""
    b = BatchRow.new("slurm", "/x", {"timeout_min": 1}, n)
    tasks = [[Task(f"{bid}-p{i}", "hpcq_echo", {}, "/w", b.outcome_path(f"{bid}-p{i}"))] for i in range(n)]
    return b, b.procs(tasks)


def test_journal_intent_submit_close_survives_reopen(tmp_path):
    j = Journal(tmp_path / "j.sqlite")
    b, procs = _batch()
    j.record_intent(b, procs)
    assert [x.batch_id for x in j.unsubmitted_batches()] == [b.batch_id]
    assert {p.state for p in j.open_procs()} == {"intent"}
    assert b.job_name == f"hpcq-{b.batch_id}"  # the name recovery looks the job up by
    j.record_submitted(b.batch_id, ["7_0", "7_1"])
    j.close()
    j = Journal(tmp_path / "j.sqlite")  # what a restarted executor sees
    assert j.unsubmitted_batches() == []
    assert {(p.process_id, p.job_id, p.state) for p in j.open_procs()} == {
        ("b1-p0", "7_0", "submitted"),
        ("b1-p1", "7_1", "submitted"),
    }
    assert j.mark_closed("b1-p0", "success") is True
    assert j.mark_closed("b1-p0", "success") is False  # a second close is refused by the journal
    assert [p.process_id for p in j.open_procs()] == ["b1-p1"]
    assert j.counts() == {"closed": 1, "submitted": 1, "batches": 1}


def test_journal_intent_is_atomic(tmp_path):
    j = Journal(tmp_path / "j.sqlite")
    b, procs = _batch()
    procs[1].process_id = procs[0].process_id  # duplicate key: the whole intent must roll back
    with pytest.raises(sqlite3.IntegrityError):
        j.record_intent(b, procs)
    assert j.unsubmitted_batches() == [] and j.open_procs() == []


def test_journal_supersede_keeps_old_attempt(tmp_path):
    j = Journal(tmp_path / "j.sqlite")
    b, procs = _batch(n=1)
    j.record_intent(b, procs)
    j.supersede("b1-p0")
    assert not j.knows("b1-p0")
    b2, procs2 = _batch("b2", 1)
    procs2[0].process_id = "b1-p0"
    j.record_intent(b2, procs2)  # the new attempt gets a fresh row
    assert j.proc("b1-p0").batch_id == b2.batch_id


def test_journal_log_offsets(tmp_path):
    j = Journal(tmp_path / "j.sqlite")
    assert j.log_offset("/a") == 0
    j.set_log_offset("/a", 10)
    j.set_log_offset("/a", 25)
    assert j.log_offset("/a") == 25


# --- packing ---------------------------------------------------------------------------------------
def test_idle_process_goes_at_once_burst_waits_to_fill():
    pk = Packer(ExecutorSettings(batch_max=3, batch_wait_s=2.0, burst_gap_s=1.0))
    pk.add("k", "a", now=100.0)  # idle before: no waiting
    assert [g.items for g in pk.due(now=100.0)] == [["a"]]
    pk.add("k", "b", now=100.5)  # burst: collect
    pk.add("k", "c", now=100.6)
    assert pk.due(now=101.0) == []
    assert [g.items for g in pk.due(now=102.6)] == [["b", "c"]]


def test_full_batch_goes_before_deadline_and_keys_stay_apart():
    pk = Packer(ExecutorSettings(batch_max=2, batch_wait_s=60, burst_gap_s=10))
    pk.add("x", 0, now=0.0)
    pk.due(now=0.0)
    for i, key in enumerate(["k1", "k2", "k1"]):
        pk.add(key, i, now=1.0 + i * 0.1)
    assert [(g.key, g.items) for g in pk.due(now=1.5)] == [("k1", [0, 2])]
    assert pk.pending() == 1
    assert [g.items for g in pk.flush()] == [[1]]


def test_elements_and_config_errors():
    assert elements(list(range(5)), 2) == [[0, 1], [2, 3], [4]]
    with pytest.raises(ValueError, match="batch_max"):
        Packer(ExecutorSettings(batch_max=0))


# --- sacct / squeue parsing -------------------------------------------------------------------------
def test_parse_sacct_arrays_states_and_times():
    text = (
        "12_[3-4,7%8]|hpcq-a|PENDING|None assigned|2026-11-25T00:00:00|Unknown|Unknown|0|0:0\n"
        "12_0|hpcq-a|CANCELLED by 0|n1|2026-11-25T00:00:00|2026-11-25T00:00:02|2026-11-25T00:00:05|2|0:15\n"
        "12_0.batch|batch|CANCELLED||||||\n"
    )
    infos = parse_sacct(text)
    assert sorted(infos) == ["12_0", "12_3", "12_4", "12_7"]
    assert infos["12_0"].state == "CANCELLED" and infos["12_0"].terminal
    assert infos["12_0"].start - infos["12_0"].submit == 2 and infos["12_0"].alloc_cpus == 2
    assert infos["12_3"].nodes == "" and infos["12_3"].start is None and not infos["12_3"].terminal
    assert _expand("5") == ["5"]


# --- registration -------------------------------------------------------------------------------------
def test_file_reference_message(tmp_path):
    f = tmp_path / "r.h5"
    f.write_bytes(b"x" * 1000)
    meta = outputs.file_ref("dev", "/hpcq/dev/p1", f)  # sent as addfilemsg by hpcq.colonyos.rpc
    assert meta["ref"]["protocol"] == "file"
    assert meta["ref"]["s3object"]["object"] == str(f.resolve()) and meta["name"] == "r.h5"
    assert meta["size"] == 1000 and meta["checksum"] == hashlib.sha256(b"x" * 1000).hexdigest()
    assert meta["checksumalg"] == "SHA256"


def test_success_output_and_s3_detection(tmp_path):
    out = outputs.success_output([], "/w/p1", {"e": -1.0})
    assert out == ["/w/p1", '{"e": -1.0}']
    assert outputs.success_output(["/w/a.h5", "/w/b.h5"], "/w", {})[0] == "/w/a.h5"
    assert not outputs.s3_configured({"AWS_S3_ENDPOINT": "h:1"})
    assert outputs.s3_configured({k: "1" for k in outputs.S3_REQUIRED})


# --- resource rules --------------------------------------------------------------------------------
# (conditions -> profile mapping and its field errors: tests/profiles/test_resources.py)
def test_rules_mpi_and_maxexectime():
    one = Plan(params={}, walltime_s=3600, ranks=1)
    check_rules(one, {"walltime": 60}, mpi=False, maxexectime=660)
    check_rules(one, {"walltime": 60}, mpi=False, maxexectime=-1)
    with pytest.raises(PlanError, match=r"walltime=7200 s cannot fit in maxexectime=600"):
        check_rules(one, {"walltime": 7200}, mpi=False, maxexectime=600)
    with pytest.raises(PlanError, match="maxexectime=0"):
        check_rules(one, {"walltime": 60}, mpi=False, maxexectime=0)
    with pytest.raises(PlanError, match="not MPI-enabled"):
        check_rules(Plan(params={}, walltime_s=60, ranks=4), {}, mpi=False, maxexectime=-1)
    check_rules(Plan(params={}, walltime_s=60, ranks=4), {}, mpi=True, maxexectime=-1)


# --- in-job runner --------------------------------------------------------------------------------------
def test_runner_writes_one_outcome_per_task(tmp_path, capsys):
    tasks = [
        Task("p1", "hpcq_echo", {"message": "hi"}, str(tmp_path / "w1"), str(tmp_path / "o" / "p1.json")),
        Task("p2", "hpcq_fail", {"message": "bad"}, str(tmp_path / "w2"), str(tmp_path / "o" / "p2.json")),
        Task("p3", "nope", {}, str(tmp_path / "w3"), str(tmp_path / "o" / "p3.json")),
    ]
    assert [s["ok"] for s in run_tasks(tasks)] == [True, False, False]
    o1, o2, o3 = (Outcome.read(t.outcome_path) for t in tasks)
    assert o1.summary["message"] == "hi" and o1.finished >= o1.started
    assert o2.error.startswith("RuntimeError: bad") and "Traceback" in o2.error
    assert "not in hpcq's function catalog" in o3.error
    assert f"{BEGIN}p2" in capsys.readouterr().out


def test_context_from_slurm_environment(monkeypatch):
    for k, v in {
        "SLURM_ARRAY_JOB_ID": "40",
        "SLURM_ARRAY_TASK_ID": "3",
        "SLURM_JOB_ID": "43",
        "SLURM_PROCID": "1",
        "SLURM_NTASKS": "4",
        "SLURM_CPUS_PER_TASK": "8",
        "SLURM_JOB_NODELIST": "n[1-2]",
    }.items():
        monkeypatch.setenv(k, v)
    assert slurm_job_id() == "40_3"
    ctx = build_context("p", "/w", ["in"])
    assert (ctx.rank, ctx.size, ctx.threads, ctx.nodes, ctx.inputs) == (1, 4, 8, "n[1-2]", ["in"])


def test_local_backend_runs_tasks_in_subprocesses(tmp_path):
    from hpcq.executor.backends.local import LocalBackend

    be = LocalBackend()
    tasks = [[Task("p1", "hpcq_echo", {"message": "local"}, str(tmp_path / "w"), str(tmp_path / "p1.json"))]]
    ids = be.submit(run_tasks, tasks, {"timeout_min": 1, "slurm_partition": "ignored"}, "hpcq-local", tmp_path)
    deadline = time.monotonic() + 60
    while not Path(tmp_path / "p1.json").exists():
        assert time.monotonic() < deadline, "local job produced no outcome"
        time.sleep(0.1)
    assert Outcome.read(tmp_path / "p1.json").summary["message"] == "local"
    wait_for(lambda: be.query(ids)[ids[0]].state != "RUNNING", 60, 0.1, "local job to end")
    assert be.query(ids)[ids[0]].state == "COMPLETED"
    out, _ = be.log_paths(ids[0], tmp_path)
    assert "hpcq_echo: local" in out.read_text()
    assert be.find("hpcq-local", 0, 1) == ids  # found by its unique name, as recovery needs
    assert be.find("hpcq-other", 0, 1) is None and LocalBackend().find("hpcq-local", 0, 1) is None


def test_rerun_detection_after_requeue():
    from hpcq.executor.backends.base import JobInfo
    from hpcq.executor.watcher import _rerun

    out = Outcome(process_id="p", ok=True, started=1000.0, finished=1030.0)
    assert _rerun(JobInfo("5", "PENDING"), out)  # requeued, waiting to run again
    assert _rerun(JobInfo("5", "RUNNING", start=1015.0), out)  # second incarnation started later
    assert not _rerun(JobInfo("5", "RUNNING", start=999.0), out)  # the run that wrote the outcome
    assert not _rerun(JobInfo("5", "COMPLETED", start=1015.0), out)
    assert not _rerun(None, out)
