"""`hpcq executor start`: the login-node daemon (one assign loop + one watcher thread).

Assign loop: long-poll ColonyOS (``assign_timeout_s``, well under the server's 600-s stale-executor
limit; an empty poll is "No process available for assignment"), validate each process against the
catalog, kwargs model, site profile, quantum sizing and maxexectime (refusals close the process
FAILED at once, the loop keeps serving), group processes into Slurm job arrays (packing), journal
the intent, sbatch through submitit, journal the job ids, hand the jobs to the watcher. Connection
errors back off with jitter and never end the loop. SIGTERM/SIGINT: stop assigning, submit what
was already assigned, leave running jobs to the journal, exit 0; the next start adopts them.

Construction (the CLI, the crash tests and the unit tests alike)::

    Executor(settings, Paths.under(state_dir), client=..., backend=...)

``settings`` is the validated hpcq.config.Settings (server, colony keys, ``default_profile``; its
``executor`` section, ExecutorSettings, is the tuning, read as is); ``Paths`` are the run-time
directories; ``client`` (a pycolonies ``Colonies``, default: one for ``settings``' server) is used
for every RPC, registration included, and ``backend`` (hpcq.executor.backends.base.Backend,
default: ``settings.executor.backend``) for every Slurm call. ``setup()`` registers, ``run()``
serves.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import signal
import threading
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import hpcq
from hpcq import functions
from hpcq.colonyos import ProcessState, connect, is_no_process, is_not_member, is_unreachable
from hpcq.colonyos.sites import check_site_name
from hpcq.config import ConfigError, Settings
from hpcq.executor import sessions
from hpcq.executor.backends import Backend, make_backend
from hpcq.executor.identity import ExecutorKey, ensure_registered, not_member_error, register_functions
from hpcq.executor.journal import BatchRow, Journal, ProcRow
from hpcq.executor.outputs import add_attributes
from hpcq.executor.packing import Group, Packer, elements
from hpcq.executor.profiles import ProfileError, load_profile
from hpcq.executor.resources import PlanError, Prepared, plan_process
from hpcq.executor.site import site_capacity, site_name
from hpcq.executor.slurm_errors import is_transient
from hpcq.executor.staging import FileTransferError, stage_inputs
from hpcq.executor.watcher import LIST_LIMIT, Identity, Watched, Watcher
from hpcq.job.task import Task
from hpcq.logfmt import ADOPTING, CLOSED, EXECUTOR_LOG, SERVING
from hpcq.retry import Backoff, retry

log = logging.getLogger(EXECUTOR_LOG)

CANCEL_FUNC = functions.HPCQ_CANCEL  # control process of `hpcq cancel`: handled here, never run in Slurm
OLD_SPEC_PROFILE_KEY = "HPCQ_PROFILE"  # what functions.SPEC_PROFILE_KEY was called: still in queued specs
T = TypeVar("T")


class _Interrupted(BaseException):  # not Exception: pycolonies re-wraps those
    """Raised by the signal handler to cut a long-poll short (a process assigned in that instant
    is found again at the next start by orphan recovery)."""


@dataclass(frozen=True)
class Paths:
    """Where one executor keeps its journal and key (``state_dir``, private) and where its jobs
    write: submitit folders and outcome files (``jobs_dir``) and per-process work directories
    (``results_dir``), both on a filesystem the compute nodes share."""

    state_dir: Path
    jobs_dir: Path
    results_dir: Path

    @classmethod
    def under(
        cls, state_dir: str | Path, jobs_dir: str | Path | None = None, results_dir: str | Path | None = None
    ) -> Paths:
        """Absolute paths; jobs and results default to ``<state_dir>/jobs`` and ``<state_dir>/results``."""
        state = Path(state_dir).resolve()
        return cls(
            state_dir=state,
            jobs_dir=Path(jobs_dir).resolve() if jobs_dir else state / "jobs",
            results_dir=Path(results_dir).resolve() if results_dir else state / "results",
        )


class Executor:
    def __init__(
        self,
        settings: Settings,
        paths: Paths,
        *,
        name: str | None = None,
        executor_prvkey: str | None = None,
        client: Any = None,
        backend: Backend | None = None,
        replace: bool = False,
        site: str | None = None,
    ):
        """``name``: the executor name (default: ``settings.executor_name`` or hpcq-<host>);
        ``site``: the ColonyOS location it serves (default: the profile's name, docs/sites.md);
        ``executor_prvkey``: a pre-approved executor key (default: HPCQ_EXECUTOR_PRVKEY or
        self-registration); ``client``/``backend``: see the module docstring; ``replace``: take the
        name over from a registration this executor does not own (`--replace`, docs/executor.md)."""
        self.settings, self.paths = settings, paths
        self.cfg = settings.executor
        self.profile = settings.default_profile
        self._name, self._executor_prvkey, self._replace = name, executor_prvkey, replace
        self._site = site
        self.site = ""  # set by setup(): the locationname registered
        self._capabilities: dict[str, Any] | None = None
        self.client = client if client is not None else connect(settings)
        self.backend = backend if backend is not None else make_backend(self.cfg.backend)
        self.stop_event = threading.Event()
        paths.state_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(paths.state_dir, 0o700)
        self.journal = Journal(paths.state_dir / "journal.sqlite")
        self.packer = Packer(self.cfg)
        self.key: ExecutorKey | None = None
        self._watcher: Watcher | None = None
        self.submitted_jobs = 0
        self._in_assign = False
        self._retry: dict[str, tuple[float, int]] = {}  # batch_id -> (next attempt, attempts)
        self._slurm_down_since: float | None = None  # first transient sbatch failure of this outage
        self._next_ping = 0.0  # when to ask Slurm again (backend.ping) during an outage with nothing held
        self._paused_logged = False
        self._resubmit_q: queue.Queue[str] = queue.Queue()  # from the watcher: needs a fresh job

    # -- lifecycle -------------------------------------------------------------------------------
    def setup(self) -> None:
        """Register (retrying while the server is unreachable, up to ``wait_server_s``)."""

        def unreachable(exc: BaseException, wait: float) -> None:
            log.warning(
                "ColonyOS server %s:%s unreachable; retrying in %.0f s", self.settings.host, self.settings.port, wait
            )

        self.site, self._capabilities = self._site_and_capabilities()
        self.key = key = retry(
            self._register,
            should_retry=lambda exc: isinstance(exc, ConfigError) and is_unreachable(exc),
            deadline_s=self.cfg.wait_server_s,
            policy=self.backoff,
            on_retry=unreachable,
        )
        self._replace = False  # a rejoin must never take a name over
        register_functions(self.client, self.colony, key, sorted([*functions.FUNCTIONS, CANCEL_FUNC]))
        ident = Identity(
            client=self.client,
            prvkey=key.prvkey,
            colony=self.colony,
            executor_id=key.executor_id,
            executor_name=key.name,
        )
        self._watcher = Watcher(ident, self.journal, self.backend, self.cfg, resubmit=self._resubmit)
        log.info(
            "executor %s (id %s…) type=%s site=%s backend=%s profile=%s state=%s",
            key.name,
            key.executor_id[:8],
            key.executor_type,
            self.site,
            self.backend.name,
            self.profile,
            self.paths.state_dir,
        )

    def _register(self) -> ExecutorKey:
        return ensure_registered(
            self.settings,
            self.client,
            self.paths.state_dir,
            self.cfg.type,
            self._name,
            self._executor_prvkey,
            locationname=self.site,
            capabilities=self._capabilities,
            replace=self._replace,
        )

    def _rejoin(self, exc: BaseException) -> None:
        """The server no longer takes our key (assign: "not a member"): the executor was removed, as
        stale or by the colony owner. Self-registered: register again (the same key, so the jobs we
        run can still be closed by us) and go on; pre-approved: stop, naming the owner's fix."""
        if not self.ident.self_registered:
            raise not_member_error(self.colony, self.name, exc)
        log.warning(
            "executor %s is no longer a member of colony %s (%s): registering again", self.name, self.colony, exc
        )
        try:
            self.key = key = self._register()
        except ConfigError as err:
            if is_unreachable(err):  # the next assign tries again
                log.warning("registering again failed: %s", err)
                return
            raise
        register_functions(self.client, self.colony, key, sorted([*functions.FUNCTIONS, CANCEL_FUNC]))
        log.info("executor %s rejoined colony %s", key.name, self.colony)

    def _site_and_capabilities(self) -> tuple[str, dict[str, Any] | None]:
        """The locationname and capabilities to register, from the default profile (docs/sites.md).
        A profile that does not load registers no capabilities (its processes are refused with
        the profile error, as before); the site is then ``--site`` or the profile's name."""
        try:
            prof = load_profile(self.profile)
        except ProfileError as exc:
            log.warning("site capabilities not registered: %s", exc)
            return check_site_name(self._site or str(self.profile), "--site"), None
        return site_name(prof, self._site), site_capacity(prof).to_capabilities(hpcq.__version__)

    @property
    def backoff(self) -> Backoff:
        return Backoff(base_s=1.0, cap_s=self.cfg.backoff_max_s)

    @property
    def colony(self) -> str:
        return self.settings.colony_name

    @property
    def ident(self) -> ExecutorKey:
        """Who this executor is (after ``setup()``)."""
        return _set_up(self.key, "executor identity")

    @property
    def name(self) -> str:
        return self.ident.name

    @property
    def watcher(self) -> Watcher:
        """The watcher thread (made by ``setup()``)."""
        return _set_up(self._watcher, "watcher")

    def run(self) -> None:
        """Serve until stop() (or SIGTERM via install_signal_handlers)."""
        if self.key is None:
            self.setup()
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
        def handler(signum: int, frame: Any) -> None:
            log.info("signal %s: stop assigning; running jobs stay in the journal", signal.Signals(signum).name)
            self.stop()
            if self._in_assign:
                raise _Interrupted()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    # -- crash recovery ---------------------------------------------------------------------------
    def recover(self) -> None:
        """Adopt what a previous run of this executor left: intents, submitted jobs, orphans."""
        for unsent in self.journal.unsubmitted_batches():
            # sbatch may or may not have happened before the crash: look the unique name up first
            self._submit_batch(unsent.batch_id, check_existing=True, watch=False)
        adopted = []
        for p in self.journal.open_procs():
            if p.state != "submitted" or not p.job_id:
                continue
            batch = self.journal.batch(p.batch_id)
            adopted.append(Watched.of(p, batch.folder if batch else str(self.paths.jobs_dir)))
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
            running = self.client.list_processes(self.colony, LIST_LIMIT, ProcessState.RUNNING, self.ident.prvkey) or []
        except Exception as exc:  # noqa: BLE001
            log.warning("could not list running processes for orphan recovery: %s", exc)
            return False
        if len(running) >= LIST_LIMIT:  # the protocol lists the oldest 100 RUNNING, with no paging
            log.warning(
                "orphan recovery sees only the %d oldest running processes of colony %s; a process assigned "
                "to us beyond them is run again when its maxexectime expires and the server re-queues it",
                LIST_LIMIT,
                self.colony,
            )
        from model import Process  # pycolonies' model module

        for raw in running:
            if raw.get("assignedexecutorid") != self.ident.executor_id or self.journal.knows(raw["processid"]):
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
            if self._assign_paused():
                continue
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
                process = self.client.assign(self.colony, timeout, self.ident.prvkey)
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
                if is_not_member(exc):
                    if failures:  # refused again right after a rejoin: back off as for any error
                        self.stop_event.wait(self.backoff.delay(failures - 1))
                    failures += 1
                    lost_reply = True
                    self._rejoin(exc)  # raises ConfigError where it cannot: the loop ends, jobs stay journaled
                    continue
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

    def _assign_paused(self) -> bool:
        """Slurm has not answered sbatch for ``slurm_down_pause_s``: take no new process (another
        site's executor may), wait for the next sbatch retry instead. True when paused."""
        now = time.monotonic()
        if not self._retry and self._slurm_down_since is not None and now >= self._next_ping:
            # nothing held is waiting for sbatch (ColonyOS may have re-queued it): ask Slurm itself,
            # else this executor would take new work, even the re-queued process, from a dead Slurm
            try:
                self.backend.ping()
                self._slurm_down_since = None
            except Exception as exc:  # noqa: BLE001 - any failure: still down
                self._next_ping = now + self.backoff.delay(1)
                log.debug("Slurm still does not answer: %s", str(exc)[:200])
        if not assign_paused(self._slurm_down_since, now, self.cfg.slurm_down_pause_s):
            if self._paused_logged:
                log.info("sbatch works again: taking new processes")
            self._paused_logged = False
            return False
        if not self._paused_logged:
            log.warning(
                "Slurm has not answered sbatch for %.0f s: not taking new processes until it does "
                "(the %d held are given back by their maxexectime if it does not come back)",
                now - (self._slurm_down_since or now),
                len(self.journal.open_procs()),
            )
            self._paused_logged = True
        wake = min((w for w, _ in self._retry.values()), default=max(self._next_ping, now + 0.01))
        self.stop_event.wait(max(0.01, min(wake - now, self.cfg.assign_timeout_s)))
        return True

    def _still_ours(self, pids: list[str]) -> list[str]:
        """Those of ``pids`` still RUNNING and assigned to this executor (or that cannot be asked
        about now); the rest were re-queued by ColonyOS (maxexectime, executor removal) and may be
        another site's now: marked closed "gone" in the journal, never submitted."""
        ours = []
        for pid in pids:
            if self.watcher.colony_state(pid) == "gone":
                log.info("process %s is no longer ours (re-queued by ColonyOS): not submitting it", pid)
                self.journal.mark_closed(pid, "gone")
            else:
                ours.append(pid)
        return ours

    def _accept(self, process: Any) -> None:
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
            prepared = self.stage(self.prepare(process))
        except PlanError as exc:
            self.fail([pid], str(exc))
            return
        if sessions.wants_session(prepared.fd.name, prepared.params):  # a call to a running session job
            sessions.route(self, prepared)
            return
        self.packer.add((prepared.fd.name, prepared.plan.key()), prepared)

    def _handle_cancel(self, control: Any) -> None:
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
            self.fail([control.processid], f"{CANCEL_FUNC}: {exc}")
            return
        wanted = set(pids)
        waiting = self.packer.remove(lambda prep: prep.process.processid in wanted)
        for prep in waiting:  # assigned but not yet in Slurm: nothing to scancel
            self.fail([prep.process.processid], reason)
        open_procs = {p.process_id: p for p in self.journal.open_procs()}
        unsent = [pid for pid in pids if pid in open_procs and open_procs[pid].state == "intent"]
        self.fail(unsent, reason)  # sbatch pending a retry: closed, so never submitted
        running = [pid for pid in pids if pid in open_procs and open_procs[pid].state == "submitted"]
        self.watcher.cancel(running, reason)
        done = {prep.process.processid for prep in waiting} | set(unsent) | set(running)
        report = {"cancelled": len(done), "not_ours": [pid for pid in pids if pid not in done]}
        try:
            self.client.close(control.processid, [json.dumps(report, sort_keys=True)], self.ident.prvkey)
        except Exception as exc:  # noqa: BLE001
            log.warning("closing %s control process %s failed: %s", CANCEL_FUNC, control.processid, exc)
        log.info("%s %s: %s", CANCEL_FUNC, control.processid, report)

    def prepare(self, process: Any) -> Prepared:
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
        env = spec.env or {}
        spec_profile = env.get(functions.SPEC_PROFILE_KEY) or env.get(OLD_SPEC_PROFILE_KEY, "")
        plan = plan_process(
            spec_profile or self.profile,
            conditions,
            params_obj,
            fd.mpi,
            int(spec.maxexectime),
            from_spec=bool(spec_profile),
        )
        return Prepared(process=process, fd=fd, params=params, plan=plan)

    def stage(self, prepared: Prepared) -> Prepared:
        """Other sites' parent files, fetched into the process's work dir (hpcq.executor.staging);
        a file that cannot be had refuses the process with the reason."""
        pid = prepared.process.processid
        try:
            prepared.inputs, prepared.inputs_from = stage_inputs(
                self.client,
                self.colony,
                self.ident.prvkey,
                prepared.process,
                self.paths.results_dir / self.colony / pid / "inputs",
                [self.paths.results_dir, self.paths.jobs_dir],
                log=lambda m: log.info("process %s: %s", pid, m),
            )
        except FileTransferError as exc:
            raise PlanError(f"staging the inputs from the parent steps failed: {exc}") from None
        if prepared.inputs_from:  # visible in hpcq status --json and the transfer bench
            t = prepared.inputs_from
            add_attributes(
                self.client,
                self.ident.prvkey,
                pid,
                {
                    "inputs_staged_bytes": sum(r["bytes"] for r in t),
                    "inputs_staged_s": round(sum(r["seconds"] for r in t), 4),
                    "inputs_from": json.dumps(t, sort_keys=True),
                },
            )
        return prepared

    # -- submission -------------------------------------------------------------------------------
    def new_batch(self, params: dict[str, Any], folder: str | Path | None = None, elements: int = 1) -> BatchRow:
        """A batch of this executor's backend in ``folder`` (default: the jobs directory), not
        journaled yet (hpcq.executor.journal.BatchRow.new)."""
        return BatchRow.new(self.backend.name, folder or self.paths.jobs_dir, params, elements)

    def task(self, prepared: Prepared, batch: BatchRow) -> Task:
        """The Task that runs an accepted process in ``batch``: its work directory
        ``<results>/<colony>/<process id>`` and its outcome file in the batch's folder."""
        p = prepared.process
        return Task(
            process_id=p.processid,
            funcname=prepared.fd.name,
            params=prepared.params,
            workdir=str(self.paths.results_dir / self.colony / p.processid),
            outcome_path=batch.outcome_path(p.processid),
            inputs=prepared.inputs if prepared.inputs is not None else list(p.input or []),
            gpu=bool(p.spec.conditions.gpu and p.spec.conditions.gpu.count),
            extra={
                **({"inputs_from": prepared.inputs_from} if prepared.inputs_from else {}),
                **({"qpu": prepared.plan.detail["qpu"]} if "qpu" in prepared.plan.detail else {}),  # docs/qpu.md
            },
            site=self.site,
            executor=self.name,
        )

    def _submit_group(self, group: Group) -> None:
        items: list[Prepared] = group.items
        if not items:
            return
        pack = self.cfg.pack
        params = dict(items[0].plan.params)
        if pack > 1 and len(items) > 1:  # elements run several tasks one after another
            params["timeout_min"] = int(params.get("timeout_min", 60)) * min(pack, len(items))
        chunks = elements(items, pack)
        batch = self.new_batch(params, elements=len(chunks))
        element_tasks = [[self.task(prep, batch) for prep in chunk] for chunk in chunks]
        # BEFORE sbatch: a crash now is recovered by job name
        self.journal.record_intent(batch, batch.procs(element_tasks))
        self._submit_batch(batch.batch_id, element_tasks=element_tasks)

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
        if check_existing and procs and batch is not None and batch.submitted is None:
            # a retry or a restart: ColonyOS may have re-queued them, and another site taken them
            keep = set(self._still_ours([p.process_id for p in procs]))
            procs = [p for p in procs if p.process_id in keep]
            if not procs:
                self.journal.record_submitted(batch_id, [])
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
                if self._slurm_down_since is None:
                    self._slurm_down_since = time.monotonic()
                log.warning("sbatch of batch %s failed (%s); retrying in %.1f s", batch_id, str(exc)[:300], wait)
                return
            self._retry.pop(batch_id, None)
            self.journal.record_submitted(batch_id, [])
            self.fail([p.process_id for p in procs], f"submitting the Slurm job failed: {exc}")
            return
        self._retry.pop(batch_id, None)
        self._slurm_down_since = None  # Slurm answers
        self.journal.record_submitted(batch_id, ids)
        if watch:
            self.watch(batch, [ProcRow(**{**asdict(p), "job_id": ids[p.element], "state": "submitted"}) for p in procs])

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
            batch = BatchRow.new(old.backend, old.folder, old.params, 1)
            task = replace(Task(**row.task), outcome_path=batch.outcome_path(pid))
            self.journal.supersede(pid)
            self.journal.record_intent(batch, batch.procs([[task]], assigned=row.assigned))
            log.info("resubmitting process=%s (its job %s died of Slurm before the function ran)", pid, row.job_id)
            self._submit_batch(batch.batch_id, element_tasks=[[task]])

    def _retry_due(self) -> None:
        now = time.monotonic()
        for batch_id, (when, _) in list(self._retry.items()):
            if when <= now and not self.stop_event.is_set():
                self._submit_batch(batch_id, check_existing=True)

    # -- what the watcher and session routing call ------------------------------------------------
    def fail(self, pids: list[str], message: str) -> None:
        """Close these processes FAILED with ``message`` (journaled ones are marked closed)."""
        for pid in pids:
            log.info("refusing process=%s: %s", pid, message)
            try:
                self.client.fail(pid, [message], self.ident.prvkey)
            except Exception as exc:  # noqa: BLE001
                log.warning("failing %s failed: %s", pid, exc)
            else:
                log.info(CLOSED, pid, "failed", "-")
            if self.journal.knows(pid):
                self.journal.mark_closed(pid, "failed")

    def watch(self, batch: BatchRow, rows: list[ProcRow]) -> None:
        """Hand submitted rows of ``batch`` to the watcher."""
        self.watcher.watch([Watched.of(r, batch.folder) for r in rows])


def assign_paused(down_since: float | None, now: float, pause_after_s: float) -> bool:
    """Whether to stop taking new processes: sbatch has failed transiently (Slurm not answering)
    since ``down_since`` for at least ``pause_after_s``. Failing the held processes instead would
    fail their whole workflow (ColonyOS fails every process of a graph with a failed one, and
    maxretries applies only to maxexectime expiry), so they stay held: submitted when Slurm is back,
    or re-queued by their maxexectime and then dropped here (``_still_ours``)."""
    return down_since is not None and now - down_since >= pause_after_s


def _set_up(value: T | None, what: str) -> T:
    if value is None:
        raise RuntimeError(f"Executor.setup() has not run: no {what} yet")
    return value


def _runner() -> Any:
    from hpcq.job.runner import run_tasks

    return run_tasks
