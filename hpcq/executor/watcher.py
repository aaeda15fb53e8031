"""The watcher thread: many Slurm jobs at once, one loop, few calls.

Every cycle (``poll_s``) it checks each watched process's Outcome file (a stat: cheap, and the
fastest way to see a finished task); every ``query_every_s`` it reads the state of ALL watched
jobs with one backend query (one sacct call); every ``log_every_s`` it forwards new stdout/stderr
lines to ColonyOS logs (hpcq.executor.logs); every ``colony_every_s`` it checks that its processes
are still RUNNING and assigned to this executor on the ColonyOS side and scancels the jobs of
those that are not. The intervals are hpcq.config.ExecutorSettings fields.

It is the only thread that closes processes, so a process is closed at most once per executor,
and the journal (``mark_closed`` after the RPC) makes that hold across restarts.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hpcq.colonyos import ProcessState, is_not_found
from hpcq.config import ExecutorSettings
from hpcq.executor import outputs
from hpcq.executor.backends.base import EXPLAIN, Backend, JobInfo
from hpcq.executor.journal import Journal, ProcRow
from hpcq.executor.logs import LogForwarder, other_ranks_stderr, stderr_tail
from hpcq.executor.slurm_errors import INFRA_RETRIES, died_before_running, is_lost
from hpcq.job.task import Outcome
from hpcq.logfmt import CLOSED, EXECUTOR_LOG

log = logging.getLogger(EXECUTOR_LOG)

LIST_LIMIT = 100  # colonies answers getprocessesmsg with at most this many processes (no paging)
AFTERLIFE_S = 900.0  # how long a job is still watched for a Slurm requeue after its processes closed
__all__ = ["INFRA_RETRIES", "Watcher", "Watched"]


@dataclass
class Watched:
    process_id: str
    job_id: str
    batch_id: str
    element: int
    folder: str
    funcname: str
    outcome_path: str
    workdir: str
    submitted: float = 0.0
    info: JobInfo | None = None
    terminal_since: float | None = None
    terminal_seen: int = 0  # consecutive queries that reported a final state
    attrs_sent: bool = False
    retry_after: float = 0.0

    @classmethod
    def of(cls, row: ProcRow, folder: str) -> Watched:
        """A submitted journal row (its batch's ``folder``) to watch."""
        return cls(
            process_id=row.process_id,
            job_id=row.job_id or "",
            batch_id=row.batch_id,
            element=row.element,
            folder=folder,
            funcname=row.funcname,
            outcome_path=row.task["outcome_path"],
            workdir=row.task["workdir"],
            submitted=row.assigned,
        )


@dataclass
class Identity:
    client: Any  # pycolonies.Colonies
    prvkey: str
    colony: str
    executor_id: str
    executor_name: str


class Watcher(threading.Thread):
    def __init__(
        self,
        ident: Identity,
        journal: Journal,
        backend: Backend,
        cfg: ExecutorSettings,
        resubmit: Callable[[list[Watched]], None] | None = None,
    ):
        """``resubmit``: hand processes back to the daemon for a fresh Slurm job (called from this
        thread); None fails them instead."""
        super().__init__(name="hpcq-watcher", daemon=True)
        self.me, self.journal, self.backend = ident, journal, backend
        self.cfg = cfg
        self.resubmit = resubmit
        self.stop_event = threading.Event()
        self._incoming: queue.Queue[Watched | str] = queue.Queue()  # str: drop that process (in order)
        self._cancels: queue.Queue[tuple[str, str]] = queue.Queue()
        self.active: dict[str, Watched] = {}
        self._last = {"query": 0.0, "log": 0.0, "colony": time.monotonic()}
        self._colony_turn = 0  # where the next one-by-one confirmation starts (more than LIST_LIMIT running)
        self._afterlife: dict[str, float] = {}  # job id -> watch until (closed, job not ended yet)
        self._early: dict[str, Future[None]] = {}  # process id -> future of its early attributes
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="hpcq-rpc")
        self._logs = LogForwarder(journal, backend, self._add_log, self._pool)
        self._infra_retries: dict[str, int] = {}

    # -- called from other threads ------------------------------------------------------------
    def watch(self, items: list[Watched]) -> None:
        for w in items:
            self._incoming.put(w)

    def cancel(self, process_ids: list[str], reason: str) -> None:
        """Cancel these processes' Slurm jobs and fail them with ``reason`` (hpcq_cancel)."""
        for pid in process_ids:
            self._cancels.put((pid, reason))

    def drop(self, process_id: str) -> None:
        """Forget a process (it was handed back to ColonyOS and assigned again)."""
        self._incoming.put(process_id)  # after any watch() of it that the loop has not taken yet

    def stop(self) -> None:
        self.stop_event.set()

    # -- the loop -------------------------------------------------------------------------------
    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                self.cycle()
            except Exception:  # noqa: BLE001 - the watcher must never die
                log.exception("watcher cycle failed; continuing")
                time.sleep(1.0)
            self.stop_event.wait(self.cfg.poll_s)

    def cycle(self) -> None:
        now = time.monotonic()
        self._take_incoming()
        self._take_cancels()
        done_files = self._outcome_files()
        finished = [w for w in self.active.values() if w.retry_after <= now and w.outcome_path in done_files]
        need_info = any(w.info is None or w.info.start is None for w in finished)
        # jobs not seen running yet are looked at more often (squeue is cheap), so that their start
        # time and nodes are known before they finish and closing needs no extra query
        young = any(
            w.info is None or w.info.start is None or w.terminal_since is not None for w in self.active.values()
        )
        every = self.cfg.query_every_s
        period = min(every, self.cfg.query_young_s) if young else every
        query = None
        if now - self._last["query"] >= period or need_info:
            self._last["query"] = now
            query = self._pool.submit(self._query, now)  # overlaps with the log upload below
        if finished or now - self._last["log"] >= self.cfg.log_every_s:
            self._last["log"] = now
            self._logs.forward(self.active.values())
        if query is not None:
            query.result()
        # final state seen by two queries at least grace_s apart and still no outcome file: lost
        lost = [
            w
            for w in self.active.values()
            if w.retry_after <= now
            and is_lost(
                w.terminal_seen,
                None if w.terminal_since is None else now - w.terminal_since,
                self.cfg.grace_s,
                Path(w.outcome_path).exists(),
            )
        ]
        if lost:
            self._logs.forward(self.active.values())
            lost = self._resubmit_infra_failures(lost)
        if finished or lost:
            log.debug(
                "cycle: %d finished, %d lost; listing+query+logs took %.0f ms",
                len(finished),
                len(lost),
                1000 * (time.monotonic() - now),
            )
            self._close_all([(w, Outcome.read(w.outcome_path)) for w in finished] + [(w, None) for w in lost])
        if now - self._last["colony"] >= self.cfg.colony_every_s:
            self._last["colony"] = now
            self._check_colony()

    def _resubmit_infra_failures(self, lost: list[Watched]) -> list[Watched]:
        """A job that died of Slurm itself before the function began (srun could not reach
        slurmctld) has run nothing: give its process a fresh job instead of failing it, at most
        INFRA_RETRIES times. Returns the jobs still to be closed as failed."""
        if self.resubmit is None:
            return lost
        again, rest = [], []
        for w in lost:
            tail = stderr_tail(self.backend, w, self.cfg.stderr_lines, whole=True)
            tail += "\n" + other_ranks_stderr(self.backend, w)
            tries = self._infra_retries.get(w.process_id, 0)
            if tries < INFRA_RETRIES and died_before_running(w.process_id, tail):
                self._infra_retries[w.process_id] = tries + 1
                self.active.pop(w.process_id, None)
                log.warning(
                    "job %s of process=%s died of Slurm before the function ran (%s); resubmitting (%d/%d)",
                    w.job_id,
                    w.process_id,
                    tail.strip().splitlines()[-1][:200],
                    tries + 1,
                    INFRA_RETRIES,
                )
                again.append(w)
            else:
                rest.append(w)
        if again:
            self.resubmit(again)
        return rest

    def _outcome_files(self) -> set[str]:
        """Outcome files present now: one directory listing per batch, not one stat per process."""
        present: set[str] = set()
        for d in {str(Path(w.outcome_path).parent) for w in self.active.values()}:
            with contextlib.suppress(FileNotFoundError):
                present.update(os.path.join(d, n) for n in os.listdir(d) if not n.startswith("."))
        return present

    def _take_cancels(self) -> None:
        while True:
            try:
                pid, reason = self._cancels.get_nowait()
            except queue.Empty:
                return
            w = self.active.get(pid)
            if w is None:
                continue
            self._cancel_job_of(w)
            try:
                self.me.client.fail(pid, [reason], self.me.prvkey)
            except Exception as exc:  # noqa: BLE001
                self._close_error(w, exc)
                continue
            self.journal.mark_closed(pid, "failed")
            self.active.pop(pid, None)
            log.info(CLOSED + " (cancelled: %s)", pid, "failed", w.job_id, reason)

    def _cancel_job_of(self, w: Watched) -> None:
        """scancel the element that runs ``w`` unless other watched processes share it (packing)."""
        if any(o.job_id == w.job_id and o.process_id != w.process_id for o in self.active.values()):
            return
        try:
            self.backend.cancel([w.job_id])
            log.info("cancelled Slurm job %s of process %s", w.job_id, w.process_id)
        except Exception as exc:  # noqa: BLE001
            log.warning("cancelling job %s failed: %s", w.job_id, exc)

    def _take_incoming(self) -> None:
        new: list[Watched] = []
        while True:
            try:
                w = self._incoming.get_nowait()
            except queue.Empty:
                break
            if isinstance(w, str):  # drop(): also a watch() of it queued before the drop
                self.active.pop(w, None)
                new = [n for n in new if n.process_id != w]
                continue
            self.active[w.process_id] = w
            new.append(w)
        # the Slurm job id is known from submission on: show it at once (in parallel: sweeps)
        list(
            self._pool.map(
                lambda w: outputs.add_attributes(
                    self.me.client, self.me.prvkey, w.process_id, {"slurm_job_id": w.job_id}
                ),
                new,
            )
        )

    def _query(self, now: float) -> None:
        ids = sorted({w.job_id for w in self.active.values()} | set(self._afterlife))
        try:
            infos = self.backend.query(ids)
        except Exception as exc:  # noqa: BLE001 - sacct hiccups must not stop the loop
            log.warning("job state query failed (%s); will retry", exc)
            return
        self._check_afterlife(infos)
        for w in self.active.values():
            info = infos.get(w.job_id)
            if info is None:
                continue
            w.info = info
            if info.start and info.nodes and not w.attrs_sent:  # known once running: send off the close path
                w.attrs_sent = True
                early: dict[str, Any] = {"slurm_nodes": info.nodes}
                if info.submit:
                    early["queue_time_s"] = round(max(0.0, info.start - info.submit), 3)
                self._early[w.process_id] = self._pool.submit(
                    outputs.add_attributes, self.me.client, self.me.prvkey, w.process_id, early
                )
            if not info.terminal:
                w.terminal_since, w.terminal_seen = None, 0  # e.g. NODE_FAIL, then requeued by Slurm
            else:
                w.terminal_seen += 1
                if w.terminal_since is None:
                    w.terminal_since = now

    def _check_afterlife(self, infos: dict[str, JobInfo]) -> None:
        """Jobs whose processes are closed but which had not ended yet. One that shows up PENDING
        again was requeued by Slurm (NODE_FAIL with JobRequeue=1 after its step had already
        written the outcome): scancel it so the process never runs a second time."""
        now = time.monotonic()
        for job_id, until in list(self._afterlife.items()):
            info = infos.get(job_id)
            if info is not None and info.terminal or now > until:
                del self._afterlife[job_id]
            elif info is not None and info.state == "PENDING":
                if any(w.job_id == job_id for w in self.active.values()):
                    continue  # a packed element whose other processes still need it
                del self._afterlife[job_id]
                try:
                    self.backend.cancel([job_id])
                    log.info("job %s was requeued by Slurm after its processes were closed: cancelled it", job_id)
                except Exception as exc:  # noqa: BLE001
                    log.warning("cancelling requeued job %s failed: %s", job_id, exc)

    # -- closing ------------------------------------------------------------------------------
    def _job_attrs(self, w: Watched, out: Outcome | None) -> dict[str, Any]:
        info = w.info
        attrs: dict[str, Any] = {}
        nodes = (out.nodes if out and out.nodes else "") or (info.nodes if info else "")
        if nodes:
            attrs["slurm_nodes"] = nodes
        if info and info.submit and info.start:
            attrs["queue_time_s"] = round(max(0.0, info.start - info.submit), 3)
        if out and out.finished:
            run = out.finished - out.started
        elif info and info.start and info.end:
            run = info.end - info.start
        else:
            run = None
        if run is not None:
            attrs["run_time_s"] = round(max(0.0, run), 3)
            cpus = info.alloc_cpus if info and info.alloc_cpus else max(1, (out.ranks * out.threads) if out else 1)
            attrs["core_hours"] = f"{cpus * max(0.0, run) / 3600:.6f}"
        return attrs

    def _close_all(self, items: list[tuple[Watched, Outcome | None]]) -> None:
        """Attributes, files and the close RPC of many processes, in parallel (the RPCs dominate)."""
        attrs = []
        for w, out in items:
            early = self._early.pop(w.process_id, None)
            if early is not None:
                early.result()
            a = self._job_attrs(w, out)
            if w.attrs_sent:
                a.pop("slurm_nodes", None)
                a.pop("queue_time_s", None)
            if out is None:
                a["slurm_state"] = w.info.state if w.info else "UNKNOWN"
            attrs += [(w.process_id, k, v) for k, v in a.items()]
        t0 = time.monotonic()
        list(
            self._pool.map(lambda t: outputs.add_attributes(self.me.client, self.me.prvkey, t[0], {t[1]: t[2]}), attrs)
        )
        log.debug("attributes: %d in %.0f ms", len(attrs), 1000 * (time.monotonic() - t0))
        for (w, out), (how, exc) in zip(items, self._pool.map(lambda it: self._close_one(*it), items), strict=True):
            if how in ("success", "failed"):
                self.journal.mark_closed(w.process_id, how)
                self.active.pop(w.process_id, None)
                if _rerun(w.info, out):
                    log.info("job %s was requeued while its first run finished; cancelling the rerun", w.job_id)
                    self._cancel_job_of(w)
                elif w.info is None or not w.info.terminal:
                    self._afterlife[w.job_id] = time.monotonic() + AFTERLIFE_S
                log.info(CLOSED, w.process_id, how, w.job_id)
            else:
                self._close_error(w, exc)

    def _close_one(self, w: Watched, out: Outcome | None) -> tuple[str, Exception | None]:
        c, key = self.me.client, self.me.prvkey
        try:
            if out is not None and out.ok:
                if out.files and self.colony_state(w.process_id) != "ours":
                    # re-queued by ColonyOS meanwhile (maxexectime, executor removal): another site
                    # may own it now; registering our files would register its results twice
                    return "error", None
                outputs.register_files(c, key, self.me.colony, w.process_id, out.files)
                c.close(w.process_id, outputs.success_output(out.files, w.workdir, out.summary), key)
                return "success", None
            c.fail(w.process_id, self._errors(w, out), key)
            return "failed", None
        except Exception as exc:  # noqa: BLE001
            return "error", exc

    def _errors(self, w: Watched, out: Outcome | None) -> list[str]:
        if out is not None:
            first = out.error.splitlines()[0] if out.error else "unknown error"
            return [f"{w.funcname} failed in Slurm job {out.slurm_job_id or w.job_id}: {first}", out.error]
        info = w.info
        state = info.state if info else "UNKNOWN"
        errors = [
            f"Slurm job {w.job_id} ended {state}: {EXPLAIN.get(state, 'the job ended without a result')}"
            f" (function {w.funcname}, nodes {info.nodes if info and info.nodes else '?'})"
        ]
        tail = stderr_tail(self.backend, w, self.cfg.stderr_lines)
        if tail:
            errors.append("last lines of stderr:\n" + tail)
        return errors

    def _close_error(self, w: Watched, exc: Exception | None) -> None:
        """Close refused or failed: find out whether the process is still ours to close."""
        state = self.colony_state(w.process_id)
        if state == "ours":
            w.retry_after = time.monotonic() + 2.0
            log.warning("closing %s failed (%s); will retry", w.process_id, exc)
        elif state == "unreachable":
            w.retry_after = time.monotonic() + 5.0
            log.warning("ColonyOS unreachable while closing %s (%s); will retry", w.process_id, exc)
        else:
            log.warning("process %s is %s on the ColonyOS side; not closing it (%s)", w.process_id, state, exc)
            self.journal.mark_closed(w.process_id, "gone")
            self.active.pop(w.process_id, None)

    def colony_state(self, process_id: str) -> str:
        """'ours' (RUNNING, assigned to us), 'gone' (removed/closed/reassigned) or 'unreachable'."""
        try:
            p = self.me.client.get_process(process_id, self.me.prvkey)
        except Exception as exc:  # noqa: BLE001
            return "gone" if is_not_found(exc) else "unreachable"
        if p.state == ProcessState.RUNNING and p.assignedexecutorid == self.me.executor_id:
            return "ours"
        return "gone"

    # -- cancellation from the ColonyOS side ----------------------------------------------------
    def _check_colony(self) -> None:
        if not self.active:
            return
        try:
            running = (
                self.me.client.list_processes(self.me.colony, LIST_LIMIT, ProcessState.RUNNING, self.me.prvkey) or []
            )
        except Exception as exc:  # noqa: BLE001
            log.warning("listing running processes failed (%s)", exc)
            return
        ours = {p["processid"] for p in running if p.get("assignedexecutorid") == self.me.executor_id}
        candidates = [pid for pid in self.active if pid not in ours]
        if len(running) >= LIST_LIMIT:
            # the server lists at most 100 (the oldest): the rest are confirmed one by one, 20 per
            # check, taking turns so that every watched process is reached within a few checks
            start = self._colony_turn % len(candidates) if candidates else 0
            candidates = (candidates[start:] + candidates[:start])[:20]
            self._colony_turn = start + 20
        gone = [pid for pid in candidates if self.colony_state(pid) == "gone"]
        for pid in gone:
            w = self.active.get(pid)
            if w is None:
                continue
            log.info("process %s is gone on the ColonyOS side (removed, failed or reassigned)", pid)
            self._cancel_job_of(w)
            self.journal.mark_closed(pid, "gone")
            self.active.pop(pid, None)

    def _add_log(self, process_id: str, text: str) -> bool:
        try:
            self.me.client.add_log(process_id, text, self.me.prvkey)
            return True
        except Exception as exc:  # noqa: BLE001 - logs are best effort
            log.debug("add_log %s failed: %s", process_id, exc)
            return False


def _rerun(info: JobInfo | None, out: Outcome | None) -> bool:
    """The job is running (or queued) again although this outcome came from an earlier run: Slurm
    requeued it (e.g. NODE_FAIL of a node whose step survived, JobRequeue=1)."""
    if info is None or out is None or info.terminal:
        return False
    if info.state == "PENDING":
        return True
    return bool(info.start and out.started and info.start > out.started + 2.0)
