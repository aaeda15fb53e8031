"""`hpcq executor start`: the login-node daemon (one assign loop + one watcher thread).

Assign loop: long-poll ColonyOS (``assign_timeout_s``, well under the server's 600-s stale-executor
limit; an empty poll is "No process available for assignment"), validate each process against the
catalog, kwargs model, site profile, quantum sizing and maxexectime (refusals close the process
FAILED at once, the loop keeps serving), group processes into Slurm job arrays (packing), journal
the intent, sbatch through submitit, journal the job ids, hand the jobs to the watcher. Connection
errors back off with jitter and never end the loop. SIGTERM/SIGINT: stop assigning, submit what
was already assigned, leave running jobs to the journal, exit 0; the next start adopts them.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import signal
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hpcq import functions
from hpcq.colonyos import ProcessState, is_no_process, is_unreachable
from hpcq.config import ConfigError, Settings
from hpcq.executor import sessions
from hpcq.executor.backends import Backend, make_backend
from hpcq.executor.identity import ExecutorKey, ensure_registered, register_functions
from hpcq.executor.journal import BatchRow, Journal, ProcRow
from hpcq.executor.packing import Group, Packer, PackingConfig, elements
from hpcq.executor.resources import Plan, PlanError, plan_process
from hpcq.executor.slurm_errors import is_transient
from hpcq.executor.watcher import Identity, WatchConfig, Watched, Watcher
from hpcq.job.task import Task
from hpcq.logfmt import ADOPTING, CLOSED, SERVING
from hpcq.retry import Backoff, retry

log = logging.getLogger("hpcq.executor")

CANCEL_FUNC = "hpcq_cancel"  # control process of `hpcq cancel`: handled here, never run in Slurm


class _Interrupted(BaseException):  # not Exception: pycolonies re-wraps those
    """Raised by the signal handler to cut a long-poll short (a process assigned in that instant
    is found again at the next start by orphan recovery)."""


@dataclass
class ExecutorConfig:
    state_dir: Path
    jobs_dir: Path | None = None  # submitit folders + outcome files (shared filesystem)
    results_dir: Path | None = None  # per-process work directories (shared filesystem)
    executor_type: str = "hpcq"
    name: str | None = None
    executor_prvkey: str | None = None
    profile: str = "local"
    backend: str = "slurm"
    assign_timeout_s: int = 10
    packing: PackingConfig = field(default_factory=PackingConfig)
    watch: WatchConfig = field(default_factory=WatchConfig)
    backoff_max_s: float = 30.0  # cap of every backoff (server unreachable, assign errors, sbatch retries)
    wait_server_s: float = 300.0  # at start: how long to wait for an unreachable server

    def __post_init__(self) -> None:
        self.state_dir = Path(self.state_dir).resolve()
        self.jobs_dir = Path(self.jobs_dir).resolve() if self.jobs_dir else self.state_dir / "jobs"
        self.results_dir = Path(self.results_dir).resolve() if self.results_dir else self.state_dir / "results"
        if not 1 <= self.assign_timeout_s <= 300:
            raise ValueError(
                f"assign_timeout_s={self.assign_timeout_s}: use 1..300 s (the server drops executors silent for 600 s)"
            )


@dataclass
class Prepared:
    process: Any  # pycolonies Process
    fd: functions.FunctionDef
    params: dict[str, Any]
    plan: Plan


class Executor:
    def __init__(
        self, cfg: ExecutorConfig, settings: Settings | None = None, backend: Backend | None = None, client: Any = None
    ):
        self.cfg = cfg
        self.settings = settings or Settings.load()
        self.backend = backend or make_backend(cfg.backend)
        self.stop_event = threading.Event()
        cfg.state_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(cfg.state_dir, 0o700)
        self.journal = Journal(cfg.state_dir / "journal.sqlite")
        self.packer = Packer(cfg.packing)
        self.key: ExecutorKey | None = None
        self.client = self.settings.client() if client is None else client  # client: a stand-in (tests)
        self.watcher: Watcher | None = None
        self.submitted_jobs = 0
        self._in_assign = False
        self._retry: dict[str, tuple[float, int]] = {}  # batch_id -> (next attempt, attempts)
        self._resubmit_q: queue.Queue[str] = queue.Queue()  # from the watcher: needs a fresh job

    # -- lifecycle -------------------------------------------------------------------------------
    def setup(self) -> None:
        """Register (retrying while the server is unreachable, up to ``wait_server_s``)."""

        def unreachable(exc: BaseException, wait: float) -> None:
            log.warning(
                "ColonyOS server %s:%s unreachable; retrying in %.0f s", self.settings.host, self.settings.port, wait
            )

        self.key = retry(
            lambda: ensure_registered(
                self.settings,
                self.cfg.state_dir,
                self.cfg.executor_type,
                self.cfg.name,
                self.cfg.executor_prvkey,
                client=self.client,
            ),
            should_retry=lambda exc: isinstance(exc, ConfigError) and is_unreachable(exc),
            deadline_s=self.cfg.wait_server_s,
            policy=self.backoff,
            on_retry=unreachable,
        )
        register_functions(self.client, self.colony, self.key, sorted([*functions.FUNCTIONS, CANCEL_FUNC]))
        ident = Identity(
            client=self.client,
            prvkey=self.key.prvkey,
            colony=self.colony,
            executor_id=self.key.executor_id,
            executor_name=self.key.name,
        )
        self.watcher = Watcher(ident, self.journal, self.backend, self.cfg.watch)
        self.watcher.resubmit = self._resubmit
        log.info(
            "executor %s (id %s…) type=%s backend=%s profile=%s state=%s",
            self.key.name,
            self.key.executor_id[:8],
            self.key.executor_type,
            self.backend.name,
            self.cfg.profile,
            self.cfg.state_dir,
        )

    @property
    def backoff(self) -> Backoff:
        return Backoff(base_s=1.0, cap_s=self.cfg.backoff_max_s)

    @property
    def colony(self) -> str:
        return self.settings.colony_name

    def run(self) -> None:
        """Serve until stop() (or SIGTERM via install_signal_handlers)."""
        if self.key is None:
            self.setup()
        assert self.watcher is not None
        self.recover()
        self.watcher.start()
        log.info(SERVING, self.colony)
        try:
            self._assign_loop()
        finally:
            for group in self.packer.flush():  # already assigned: submit, never drop
                self._submit_group(group)
            self.watcher.stop()
            self.watcher.join(timeout=10)
            log.info("stopped; journal %s", self.journal.counts())

    def stop(self) -> None:
        self.stop_event.set()

    def install_signal_handlers(self) -> None:
        def handler(signum, frame):  # noqa: ARG001
            log.info("signal %s: stop assigning; running jobs stay in the journal", signal.Signals(signum).name)
            self.stop()
            if self._in_assign:
                raise _Interrupted()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    # -- crash recovery ---------------------------------------------------------------------------
    def recover(self) -> None:
        """Adopt what a previous run of this executor left: intents, submitted jobs, orphans."""
        assert self.watcher is not None and self.key is not None
        for batch in self.journal.unsubmitted_batches():
            # sbatch may or may not have happened before the crash: look the unique name up first
            self._submit_batch(batch.batch_id, check_existing=True, watch=False)
        adopted = []
        for p in self.journal.open_procs():
            if p.state != "submitted" or not p.job_id:
                continue
            batch = self.journal.batch(p.batch_id)
            adopted.append(_watched(p, batch.folder if batch else str(self.cfg.jobs_dir)))
        if adopted:
            log.info(ADOPTING, len(adopted))
            self.watcher.watch(adopted)
        self._recover_orphans()

    def _recover_orphans(self) -> bool:
        """Processes assigned to us that the journal does not know: run them now. They come from a
        crash between assign and journal (at start) or from an assign whose reply was lost: the
        server committed the assignment and died or dropped the connection before answering (seen
        when the server was SIGKILLed mid-sweep). The packer is flushed first, so that every process
        accepted in this run is journaled and none is taken twice. False if ColonyOS could not be
        asked (try again later)."""
        for group in self.packer.flush():
            self._submit_group(group)
        try:
            running = self.client.list_processes(self.colony, 100, ProcessState.RUNNING, self.key.prvkey) or []
        except Exception as exc:  # noqa: BLE001
            log.warning("could not list running processes for orphan recovery: %s", exc)
            return False
        from model import Process  # pycolonies' model module

        for raw in running:
            if raw.get("assignedexecutorid") != self.key.executor_id or self.journal.knows(raw["processid"]):
                continue
            log.info("process %s is assigned to us but was never submitted: submitting it", raw["processid"])
            self._accept(Process(**raw))
        for group in self.packer.flush():
            self._submit_group(group)
        return True

    # -- assign loop ------------------------------------------------------------------------------
    def _assign_loop(self) -> None:
        failures = 0  # consecutive failed assign calls
        lost_reply = False  # an assign failed in transit: the server may have assigned us a process
        while not self.stop_event.is_set():
            if lost_reply and self._recover_orphans():
                lost_reply = False
            for group in self.packer.due():
                self._submit_group(group)
            self._retry_due()
            self._resubmit_due()
            timeout = self.cfg.assign_timeout_s
            if not self._resubmit_q.empty():
                continue
            deadline = min(
                [d for d in [self.packer.next_deadline(), *(w for w, _ in self._retry.values())] if d is not None],
                default=None,
            )
            if deadline is not None:
                timeout = max(1, min(timeout, int(deadline - time.monotonic() + 0.999)))
            try:
                self._in_assign = True
                process = self.client.assign(self.colony, timeout, self.key.prvkey)
                self._in_assign = False
            except _Interrupted:
                break
            except Exception as exc:  # noqa: BLE001 - pycolonies wraps every error alike
                self._in_assign = False
                if is_no_process(exc):
                    failures = 0
                    for group in self.packer.flush():  # the queue is empty: do not sit on a batch
                        self._submit_group(group)
                    continue
                if self.stop_event.is_set():
                    break
                sleep = self.backoff.delay(failures)
                failures += 1
                lost_reply = True
                log.warning("assign failed (%s); retrying in %.1f s", str(exc)[:200], sleep)
                self.stop_event.wait(sleep)
                for group in self.packer.flush():
                    self._submit_group(group)
                continue
            failures = 0
            self._accept(process)

    def _accept(self, process) -> None:
        pid = process.processid
        log.info("assigned process=%s func=%s", pid, process.spec.funcname)
        if self.journal.knows(pid):  # handed back by ColonyOS (maxexectime) and assigned again
            old = self.journal.proc(pid)
            if old is not None and old.state != "closed":
                self.watcher.drop(pid)
                if old.job_id:
                    try:
                        self.backend.cancel([old.job_id])
                    except Exception as exc:  # noqa: BLE001
                        log.warning("cancelling the previous job %s of %s failed: %s", old.job_id, pid, exc)
            self.journal.supersede(pid)
        if process.spec.funcname == CANCEL_FUNC:
            self._handle_cancel(process)
            return
        try:
            prepared = self.prepare(process)
        except PlanError as exc:
            self._fail_many([pid], str(exc))
            return
        if sessions.wants_session(prepared.fd.name, prepared.params):  # a call to a running session job
            sessions.route(self, prepared)
            return
        self.packer.add((prepared.fd.name, prepared.plan.key()), prepared)

    def _handle_cancel(self, control) -> None:
        """hpcq_cancel {processids: [...], reason}: fail those of our processes with the reason and
        scancel their jobs; close the control process with a JSON report. Processes assigned to
        another executor are reported as not_ours (ColonyOS lets only the assignee fail them)."""
        try:
            kw = functions.decode_kwargs(control.spec.kwargs)
            pids = kw.get("processids")
            if not isinstance(pids, list) or not all(isinstance(p, str) for p in pids):
                raise ValueError("kwargs.processids must be a list of process ids")
            reason = str(kw.get("reason") or "cancelled by the user (hpcq cancel)")
        except ValueError as exc:
            self._fail_many([control.processid], f"{CANCEL_FUNC}: {exc}")
            return
        wanted = set(pids)
        waiting = self.packer.remove(lambda prep: prep.process.processid in wanted)
        for prep in waiting:  # assigned but not yet in Slurm: nothing to scancel
            self._fail_many([prep.process.processid], reason)
        open_procs = {p.process_id: p for p in self.journal.open_procs()}
        unsent = [pid for pid in pids if pid in open_procs and open_procs[pid].state == "intent"]
        self._fail_many(unsent, reason)  # sbatch pending a retry: closed, so never submitted
        running = [pid for pid in pids if pid in open_procs and open_procs[pid].state == "submitted"]
        self.watcher.cancel(running, reason)
        done = {prep.process.processid for prep in waiting} | set(unsent) | set(running)
        report = {"cancelled": len(done), "not_ours": [pid for pid in pids if pid not in done]}
        try:
            self.client.close(control.processid, [json.dumps(report, sort_keys=True)], self.key.prvkey)
        except Exception as exc:  # noqa: BLE001
            log.warning("closing %s control process %s failed: %s", CANCEL_FUNC, control.processid, exc)
        log.info("%s %s: %s", CANCEL_FUNC, control.processid, report)

    def prepare(self, process) -> Prepared:
        """Everything that can be refused is refused here, before anything is queued."""
        spec = process.spec
        try:
            fd = functions.get(spec.funcname)
        except functions.UnknownFunction as exc:
            raise PlanError(str(exc.args[0])) from None
        try:
            raw = functions.decode_kwargs(spec.kwargs)
            params = functions.validate_kwargs(fd.name, raw)
        except ValueError as exc:
            raise PlanError(str(exc)) from None
        model = fd.params_model()
        params_obj = model.model_validate(params) if model is not None else None
        conditions = spec.conditions.model_dump()
        spec_profile = (spec.env or {}).get("HPCQ_PROFILE", "")
        plan = plan_process(
            spec_profile or self.cfg.profile,
            conditions,
            params_obj,
            fd.mpi,
            int(spec.maxexectime),
            from_spec=bool(spec_profile),
        )
        return Prepared(process=process, fd=fd, params=params, plan=plan)

    # -- submission -------------------------------------------------------------------------------
    def _submit_group(self, group: Group) -> None:
        items: list[Prepared] = group.items
        if not items:
            return
        batch_id = uuid.uuid4().hex[:12]
        job_name = f"hpcq-{batch_id}"
        folder = self.cfg.jobs_dir
        per = self.cfg.packing.per_element
        params = dict(items[0].plan.params)
        if per > 1 and len(items) > 1:  # elements run several tasks one after another
            params["timeout_min"] = int(params.get("timeout_min", 60)) * min(per, len(items))
        chunks = elements(items, per)
        now = time.time()
        procs, element_tasks = [], []
        for i, chunk in enumerate(chunks):
            tasks = []
            for prep in chunk:
                p = prep.process
                task = Task(
                    process_id=p.processid,
                    funcname=prep.fd.name,
                    params=prep.params,
                    workdir=str(self.cfg.results_dir / self.colony / p.processid),
                    outcome_path=str(folder / "outcomes" / batch_id / f"{p.processid}.json"),
                    inputs=list(p.input or []),
                    gpu=bool(p.spec.conditions.gpu and p.spec.conditions.gpu.count),
                )
                tasks.append(task)
                procs.append(
                    ProcRow(
                        process_id=p.processid,
                        batch_id=batch_id,
                        element=i,
                        funcname=prep.fd.name,
                        task=asdict(task),
                        assigned=now,
                    )
                )
            element_tasks.append(tasks)
        batch = BatchRow(
            batch_id=batch_id,
            job_name=job_name,
            backend=self.backend.name,
            folder=str(folder),
            params=params,
            elements=len(chunks),
            created=now,
            submitted=None,
        )
        self.journal.record_intent(batch, procs)  # BEFORE sbatch: a crash now is recovered by job name
        self._submit_batch(batch_id, element_tasks=element_tasks)

    def _submit_batch(
        self,
        batch_id: str,
        check_existing: bool = False,
        watch: bool = True,
        element_tasks: list[list[Task]] | None = None,
    ) -> None:
        """sbatch a journaled batch (or adopt the job if Slurm already has it). Transient Slurm
        errors (slurmctld down or slow) keep the intent and retry with backoff; permanent ones
        (bad partition, impossible request) fail the batch's processes with sbatch's message."""
        batch = self.journal.batch(batch_id)
        procs = [p for p in self.journal.procs_of_batch(batch_id) if p.state == "intent"]
        if batch is None or batch.submitted is not None or not procs:
            self._retry.pop(batch_id, None)
            return
        if element_tasks is None:
            element_tasks = [[] for _ in range(batch.elements)]
            for p in procs:
                element_tasks[p.element].append(Task(**p.task))
        folder = Path(batch.folder)
        try:
            ids = self.backend.find(batch.job_name, batch.created, batch.elements) if check_existing else None
            if ids is None:
                ids = self.backend.submit(_runner(), element_tasks, batch.params, batch.job_name, folder)
                self.submitted_jobs += 1
                log.info(
                    "submitted batch=%s job=%s processes=%d elements=%d",
                    batch_id,
                    ids[0].split("_")[0],
                    len(procs),
                    len(ids),
                )
            else:
                log.info("batch %s was submitted before as job %s: adopting it", batch_id, ids[0].split("_")[0])
        except Exception as exc:  # noqa: BLE001
            if is_transient(exc):
                n = self._retry.get(batch_id, (0.0, 0))[1] + 1
                wait = self.backoff.delay(n)
                self._retry[batch_id] = (time.monotonic() + wait, n)
                log.warning("sbatch of batch %s failed (%s); retrying in %.1f s", batch_id, str(exc)[:300], wait)
                return
            self._retry.pop(batch_id, None)
            self.journal.record_submitted(batch_id, [])
            self._fail_many([p.process_id for p in procs], f"submitting the Slurm job failed: {exc}")
            return
        self._retry.pop(batch_id, None)
        self.journal.record_submitted(batch_id, ids)
        if watch:
            self.watcher.watch(
                [
                    _watched(ProcRow(**{**asdict(p), "job_id": ids[p.element], "state": "submitted"}), str(folder))
                    for p in procs
                ]
            )

    def _resubmit(self, watched: list[Watched]) -> None:
        """Called by the watcher thread: queue processes whose job died of Slurm before running."""
        for w in watched:
            self._resubmit_q.put(w.process_id)

    def _resubmit_due(self) -> None:
        """Give each queued process a new one-element batch with its old job's parameters; the
        old journal row is superseded, so recovery after a crash sees only the new attempt."""
        while True:
            try:
                pid = self._resubmit_q.get_nowait()
            except queue.Empty:
                return
            row = self.journal.proc(pid)
            old = self.journal.batch(row.batch_id) if row else None
            if row is None or old is None or row.state == "closed":
                continue
            batch_id = uuid.uuid4().hex[:12]
            folder = Path(old.folder)
            task = Task(**{**row.task, "outcome_path": str(folder / "outcomes" / batch_id / f"{pid}.json")})
            self.journal.supersede(pid)
            batch = BatchRow(
                batch_id=batch_id,
                job_name=f"hpcq-{batch_id}",
                backend=old.backend,
                folder=old.folder,
                params=old.params,
                elements=1,
                created=time.time(),
                submitted=None,
            )
            self.journal.record_intent(
                batch,
                [
                    ProcRow(
                        process_id=pid,
                        batch_id=batch_id,
                        element=0,
                        funcname=row.funcname,
                        task=asdict(task),
                        assigned=row.assigned,
                    )
                ],
            )
            log.info("resubmitting process=%s (its job %s died of Slurm before the function ran)", pid, row.job_id)
            self._submit_batch(batch_id, element_tasks=[[task]])

    def _retry_due(self) -> None:
        now = time.monotonic()
        for batch_id, (when, _) in list(self._retry.items()):
            if when <= now and not self.stop_event.is_set():
                self._submit_batch(batch_id, check_existing=True)

    def _fail_many(self, pids: list[str], message: str) -> None:
        for pid in pids:
            log.info("refusing process=%s: %s", pid, message)
            try:
                self.client.fail(pid, [message], self.key.prvkey)
            except Exception as exc:  # noqa: BLE001
                log.warning("failing %s failed: %s", pid, exc)
            else:
                log.info(CLOSED, pid, "failed", "-")
            if self.journal.knows(pid):
                self.journal.mark_closed(pid, "failed")


def _runner():
    from hpcq.job.runner import run_tasks

    return run_tasks


def _watched(p: ProcRow, folder: str) -> Watched:
    t = p.task
    return Watched(
        process_id=p.process_id,
        job_id=p.job_id or "",
        batch_id=p.batch_id,
        element=p.element,
        folder=folder,
        funcname=p.funcname,
        outcome_path=t["outcome_path"],
        workdir=t["workdir"],
        submitted=p.assigned,
    )
