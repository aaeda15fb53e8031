"""Fault suite: real local Slurm + embedded server + executor subprocess, faults injected for real.

Every case asserts the three invariants from independent sources (hpcq.testing.faults):
0 lost results (each process ends in the expected state with its output), 0 duplicate Slurm jobs
(submitit pickles per process, sacct states) and 0 duplicate closes (accepted closes per process in
the executor log, over every incarnation). The short form runs in the default suite; the long
form (`-m slow` / `bash scripts/fault-suite.sh --long`) runs bigger sweeps and repeats the faults.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time

import pytest

from hpcq.testing.faults import (
    FAILED,
    SUCCESS,
    can_mount,
    crash_node_job,
    fill,
    ledger,
    make_spec,
    read_only_dir,
    running_job_ids,
    small_tmpfs,
    submit_many,
    wait_final,
    wait_for,
)

LONG_REPEATS = int(os.environ.get("HPCQ_FAULT_REPEATS", "3"))


def _assert_invariants(rig, pids, expect=SUCCESS, allowed_failed=(), case="", **extra):
    led = ledger(rig.client, rig.prv, pids, rig.ex, rig.cluster)
    rig.record(case, **led.summary(), **extra)
    assert led.lost(expect) == [], (
        f"lost/unexpected: {led.summary()}\n"
        + "\n".join(str(led.procs.get(p) and led.procs[p].errors) for p in led.lost(expect))
        + "\n"
        + rig.ex.log_text()[-4000:]
    )
    assert led.duplicate_jobs(allowed_failed) == {}, f"duplicate Slurm jobs: {led.duplicate_jobs(allowed_failed)}"
    assert led.duplicate_closes() == {}, f"duplicate closes: {led.duplicate_closes()}"
    assert all(len(led.jobs.get(p, [])) >= 1 for p in pids if expect == SUCCESS), "a process never got a job"
    return led


def _sleepers(rig, n, seconds, **kw):
    return submit_many(
        rig.client, rig.prv, [make_spec(rig.colony, "hpcq_sleep", {"seconds": seconds}, **kw) for _ in range(n)]
    )


# --- executor SIGKILLed mid-sweep and restarted -------------------------------------------------------
def _executor_kill(rig, n, seconds, kills, case):
    pids = _sleepers(rig, n, seconds)
    for k in range(kills):
        # kill at a different phase each time: after the first job, then as later batches go out
        wait_for(lambda k=k: len(running_job_ids(rig.ex.jobs_dir)) >= 1 + k, 120, 0.1, "a Slurm job")
        rig.ex.kill()
        time.sleep(1.0)
        rig.ex.start()
    procs = wait_final(rig.client, rig.prv, pids, 60 + n * seconds * 2)
    assert rig.ex.alive()
    led = _assert_invariants(rig, pids, case=case, kills=kills)
    assert all(len(led.jobs[p]) == 1 and led.runs[p] == 1 for p in pids), (led.jobs, led.runs)
    assert all(json.loads(procs[p].output[1])["slept_s"] == seconds for p in pids)


def test_executor_sigkill_mid_sweep(rig):
    _executor_kill(rig, n=5, seconds=3, kills=1, case="executor_sigkill")


@pytest.mark.slow
def test_executor_sigkill_long(rig):
    _executor_kill(rig, n=24, seconds=4, kills=LONG_REPEATS, case="executor_sigkill_long")


# --- slurmd of one node killed mid-job (NODE_FAIL) ---------------------------------------------------
def _job_node(rig, timeout=60) -> tuple[str, str]:
    def running():
        for row in rig.cluster.squeue():
            if row["State"] == "RUNNING" and row["Name"].startswith("hpcq-"):
                return row["JobID"], row["NodeList"]
        return None

    return wait_for(running, timeout, 0.3, "a RUNNING hpcq job")


def _node_fail(rig, seconds, case, crash_job: bool, hurry: bool = True):
    # walltime 600: Slurm sends --signal=USR2@90 relative to the *first* start, so a job requeued
    # after (start + limit - 90 s) gets USR2 at launch, before Python can handle it (docs/reliability.md)
    pids = _sleepers(rig, 1, seconds, maxretries=2, walltime=600)
    job_id, node = _job_node(rig)
    time.sleep(2.0)  # let the task start (BEGIN marker) before the node dies
    if crash_job:
        crash_node_job(rig.cluster, node, job_id)
    else:
        rig.cluster.kill_slurmd(node)
    try:
        if hurry:
            _skip_requeue_delay(rig, job_id)
        procs = wait_final(rig.client, rig.prv, pids, 300)
    finally:
        rig.cluster.start_slurmd(node, wait=True, timeout=120)
    time.sleep(3.0)
    led = ledger(rig.client, rig.prv, pids, rig.ex, rig.cluster)
    hist = _history(rig, job_id)
    p = procs[pids[0]]
    rig.record(case, **led.summary(), node=node, job=job_id, history=hist, errors=p.errors[:1])
    assert any("NODE_FAIL" in h for h in hist), f"the fault did not produce a NODE_FAIL: {hist}"
    assert led.duplicate_closes() == {}
    assert p.state in (SUCCESS, FAILED), "process never closed after NODE_FAIL"
    if p.state == FAILED:  # at least the reason must be explicit
        assert "NODE_FAIL" in p.errors[0] or "node" in p.errors[0].lower(), p.errors
    return p, led, hist


def _skip_requeue_delay(rig, job_id: str) -> None:
    """Slurm holds a requeued job back for about two minutes (BeginTime); the short form moves
    that start time to now, like an admin would, so CI does not idle. The long form waits."""

    def requeued():
        return any(r["JobID"] == str(job_id) and r["State"] == "PENDING" for r in rig.cluster.squeue())

    try:
        wait_for(requeued, 90, 0.5, "the requeue after NODE_FAIL")
    except TimeoutError:
        return  # not requeued (e.g. the step survived and finished): nothing to hurry
    rig.cluster.run("scontrol", "update", f"JobId={job_id}", "StartTime=now", check=False)


def _history(rig, job_id: str) -> list[str]:
    """Every incarnation of a job (sacct --duplicates shows the requeued ones)."""
    out = rig.cluster.run(
        "sacct", "-D", "-X", "-n", "-P", "-o", "JobID,State,NodeList", "-j", str(job_id).split("_")[0]
    ).stdout
    return [ln for ln in out.splitlines() if ln.strip()]


def _no_live_incarnation(led, hist) -> None:
    """Once the process is closed, no incarnation of its job may still be queued or running:
    it would run the process a second time (a duplicate Slurm job in all but id)."""
    live = [h for h in hist if h.split("|")[1] in ("PENDING", "RUNNING", "REQUEUED")]
    assert live == [], f"process closed but its job was requeued and is still live: {hist}"


def test_node_crash_retried_within_maxretries(rig):
    """Node power loss (slurmd + the job's processes killed): the job NODE_FAILs, Slurm requeues it,
    the retry runs on a healthy node, the process closes SUCCESS exactly once."""
    p, led, hist = _node_fail(rig, seconds=20, case="node_crash", crash_job=True)
    _check_node_crash(p, led, hist)


def _check_node_crash(p, led, hist):
    assert p.state == SUCCESS, f"not retried: {p.errors[:1]}"
    assert sum(1 for h in hist if h.split("|")[1] == "NODE_FAIL") <= 2  # maxretries=2
    assert led.runs[p.processid] <= 3, led.runs
    _no_live_incarnation(led, hist)


@pytest.mark.slow
def test_node_crash_long(rig):
    """Long form: the natural requeue delay (about 2-3 min), repeated HPCQ_FAULT_REPEATS-1 times."""
    for k in range(max(1, LONG_REPEATS - 1)):
        p, led, hist = _node_fail(rig, seconds=20, case=f"node_crash_long_{k}", crash_job=True, hurry=False)
        _check_node_crash(p, led, hist)


def test_slurmd_crash_no_second_run(rig):
    """slurmd alone crashes: the step survives and writes the result, the process closes SUCCESS,
    and the incarnation Slurm requeued meanwhile must be cancelled, not run a second time."""
    # no hurrying here: Slurm's own requeue delay is what gives the executor time to cancel.
    # The step must outlive Slurm's detection of the dead slurmd (measured in docs/slurm-lab.md),
    # or the job just COMPLETEs and no NODE_FAIL happens; a 30 s sleeper lost that race on CI.
    p, led, hist = _node_fail(rig, seconds=60, case="slurmd_crash", crash_job=False, hurry=False)
    assert p.state == SUCCESS
    _no_live_incarnation(led, hist)
    assert led.runs[p.processid] == 1, f"the process ran twice: {hist}"


# --- a job scancelled from outside -----------------------------------------------------------------
def _scancel(rig, n, case):
    pids = _sleepers(rig, n, 60)
    wait_for(lambda: len(running_job_ids(rig.ex.jobs_dir)) >= 1, 60, 0.2, "a Slurm job")
    time.sleep(1.0)
    ids = sorted({j.split("_")[0] for j in running_job_ids(rig.ex.jobs_dir)})
    t0 = time.monotonic()
    rig.cluster.run("scancel", *ids)
    procs = wait_final(rig.client, rig.prv, pids, 60, poll=0.3)
    took = time.monotonic() - t0
    _assert_invariants(rig, pids, expect=FAILED, case=case, seconds_to_fail=round(took, 1))
    for p in pids:
        assert "CANCELLED" in procs[p].errors[0] and "scancel" in procs[p].errors[0], procs[p].errors


def test_scancel_from_outside(rig):
    _scancel(rig, 1, "scancel")


@pytest.mark.slow
def test_scancel_long(rig):
    _scancel(rig, 6, "scancel_long")


# --- the server SIGKILLed and restarted mid-sweep (embedded: SQLite; colonies: PostgreSQL underneath) ---
def _server_kill(rig, n, seconds, down_s, kills, case):
    pids = _sleepers(rig, n, seconds)
    handle = rig.server.handle
    for k in range(kills):
        wait_for(lambda k=k: len(running_job_ids(rig.ex.jobs_dir)) >= 1 + k, 120, 0.1, "a Slurm job")
        handle.kill()
        time.sleep(down_s)  # jobs finish while the server is down: their closes must wait
        handle.restart()
    procs = wait_final(rig.client, rig.prv, pids, 120 + n * seconds * 2)
    assert rig.ex.alive(), "the executor died while the server was down"
    _assert_invariants(rig, pids, case=case, down_s=down_s, kills=kills)
    assert "retrying in" in rig.ex.log_text() or "unreachable" in rig.ex.log_text()
    assert all(procs[p].output for p in pids)


@pytest.mark.both_servers
def test_server_sigkill_mid_sweep(rig):
    _server_kill(rig, n=4, seconds=3, down_s=6, kills=1, case="server_sigkill")


@pytest.mark.slow
def test_server_sigkill_long(rig):
    _server_kill(rig, n=16, seconds=4, down_s=15, kills=LONG_REPEATS, case="server_sigkill_long")


# --- a failing HDF5 write -----------------------------------------------------------------------------
SWEEP = {
    "study": "faults",
    "problems": [{"kind": "tfim", "n_qubits": 2, "h": 1.0}],
    "optimizers": [{"kind": "cobyla", "maxiter": 3}],
    "seeds": [0],
}


def _registered_files(rig, pid) -> list:
    db = sqlite3.connect(f"file:{rig.server.handle.data_dir / 'colonies.db'}?mode=ro", uri=True)
    try:
        return db.execute("SELECT name FROM files WHERE label LIKE ?", (f"%{pid}%",)).fetchall()
    finally:
        db.close()


def _h5_fail(rig, how, case):
    results = rig.ex.results_dir
    ctx = small_tmpfs(results, "512k") if how == "full" else read_only_dir(results)
    with ctx:
        if how == "full":
            fill(results, leave_bytes=16 * 1024)
        pids = submit_many(rig.client, rig.prv, [make_spec(rig.colony, "vqe_sweep", SWEEP, walltime=600)])
        procs = wait_final(rig.client, rig.prv, pids, 240)
        leftovers = [str(p) for p in results.rglob("*.h5")]
    _assert_invariants(rig, pids, expect=FAILED, case=case, leftovers=leftovers)
    err = "\n".join(procs[pids[0]].errors)
    want = "No space left" if how == "full" else "Read-only file system"
    assert want in err, err[:2000]
    assert "vqe_sweep failed" in procs[pids[0]].errors[0], procs[pids[0]].errors[0]
    assert _registered_files(rig, pids[0]) == [], "a file of a failed write was registered"
    assert leftovers == [], f"partial HDF5 files left behind: {leftovers}"


def test_hdf5_write_fails_on_full_disk(rig):
    from hpcq.testing import need

    need(can_mount(), "mounting a small tmpfs needs root")
    _h5_fail(rig, "full", "hdf5_full_disk")


@pytest.mark.slow
def test_hdf5_write_fails_read_only(rig):
    _h5_fail(rig, "ro", "hdf5_read_only")


# --- slurmctld down for 30 s ---------------------------------------------------------------------------
def _ctld_down(rig, before, during, down_s, case):
    pids = _sleepers(rig, before, 3)
    wait_for(lambda: len(running_job_ids(rig.ex.jobs_dir)) >= 1, 60, 0.2, "a Slurm job")
    rig.cluster.stop_ctld()
    try:
        pids += submit_many(
            rig.client, rig.prv, [make_spec(rig.colony, "hpcq_echo", {"message": f"during {i}"}) for i in range(during)]
        )
        time.sleep(down_s)
        assert rig.ex.alive(), "the executor died while slurmctld was down"
    finally:
        rig.cluster.start_ctld()
    wait_final(rig.client, rig.prv, pids, 180)
    # a job whose step could not launch while slurmctld was down ends FAILED having run nothing;
    # the executor gives that process a fresh job: allowed, as long as nothing ran twice
    led = _assert_invariants(rig, pids, allowed_failed=("FAILED",), case=case, down_s=down_s)
    assert {p: n for p, n in led.runs.items() if p in pids and n > 1} == {}, f"ran twice: {led.runs}"


def test_slurmctld_down_30s(rig):
    _ctld_down(rig, before=2, during=2, down_s=30, case="slurmctld_down")


@pytest.mark.slow
def test_slurmctld_down_long(rig):
    _ctld_down(rig, before=8, during=8, down_s=60, case="slurmctld_down_long")
