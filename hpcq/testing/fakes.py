"""A fake Slurm backend and a fake ColonyOS client, for unit tests of the executor's decisions.

Why: the daemon and the watcher decide against two services (pack processes into job arrays,
adopt jobs after a restart, retry a refused sbatch or fail its processes, tell a lost job from a
finished one, cancel, recover orphans). Against the real ones (tests/executor: the Slurm lab and
the embedded server) each case takes seconds to minutes and needs root. These fakes answer in
microseconds and let a test script what the services do, as submitit's ``MockedSubprocess`` and
qiskit-ibm-runtime's ``fake_runtime_client`` do for their projects. The real-service suites stay
the proof that the services behave like the fakes.

- :class:`FakeBackend` follows :class:`hpcq.executor.backends.base.Backend`. Every element job
  follows a :class:`JobScript`: one state per ``query`` of it, as squeue shows a job over time.
  When a job leaves RUNNING its tasks run in-process through the real job runner's ``run_one``,
  so Outcome files, begin/end markers and the function's output appear where the watcher looks.
  (``run_tasks`` itself installs a signal handler, which only the main thread may do; the watcher
  thread drives the fake.) sbatch failures are queued with :meth:`FakeBackend.fail_submit`.
- :class:`FakeColony` is pycolonies' ``Colonies`` client whose one RPC method is answered in
  memory, so every pycolonies call hpcq makes builds and parses its messages as against a server.
  Its processes are the embedded server's documents (hpcq.server.wire: spec normalisation, the
  JSON a client reads), and it keeps the rules hpcq relies on (colonies v1.9.7 + cancel of
  v1.9.12): registration by the colony owner, members only, FIFO assign with a long-poll, only
  the assignee closes a RUNNING process, maxexectime expiry that re-queues with ``retries+1`` (or
  fails after ``maxretries``), cancel. Its long-poll lasts at most ``max_poll_s`` so that a
  stopped executor ends at once.
- :func:`make_executor` and :func:`serving`: the one place tests build and run an Executor on them.
"""

from __future__ import annotations

import contextlib
import copy
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from model import Conditions, FuncSpec  # pycolonies' models
from pycolonies import Colonies, ColoniesConnectionError

from hpcq.colonyos import NO_PROCESS, ProcessState
from hpcq.colonyos.signing import new_prvkey
from hpcq.config import ExecutorSettings, Settings
from hpcq.executor.backends.base import TERMINAL, JobInfo
from hpcq.executor.daemon import Executor, Paths
from hpcq.functions import encode_kwargs
from hpcq.job.runner import run_one
from hpcq.job.task import Task
from hpcq.logfmt import BEGIN, END
from hpcq.server.procs import new_process
from hpcq.server.timeouts import EXEC_TIMEOUT_MSG
from hpcq.server.wire import (
    RPCError,
    attribute_id,
    bad,
    deadline,
    forbidden,
    gotime,
    normalise_spec,
    notfound,
    now_ns,
    random_id,
    render_executor,
    render_process,
)

RELEASE_PERIOD_S = 1.0  # the server's timeout loop runs this often: maxexectime 0 expires by then


class Crash(BaseException):
    """The executor process dies here (raise it from a fake: not an Exception, so nothing in the
    executor catches it). :func:`serving` treats it as the end of that executor."""


# --- Slurm ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class JobScript:
    """How one element job behaves: ``states`` one per query (the last one stays), the tasks run
    when the job leaves RUNNING if ``run`` (else it dies without results), ``stderr`` is written to
    its stderr when it ends (e.g. an srun error)."""

    states: tuple[str, ...] = ("PENDING", "RUNNING", "COMPLETED")
    run: bool = True
    stderr: str = ""


HOLD = JobScript(states=("PENDING", "RUNNING"))  # runs until cancelled or extended


@dataclass
class FakeJob:
    job_id: str
    job_name: str
    tasks: list[Task]
    params: dict[str, Any]
    folder: Path
    script: JobScript
    step: int = 0
    ran: bool = False
    cancelled: bool = False
    submit: float = field(default_factory=time.time)
    start: float | None = None
    end: float | None = None

    @property
    def state(self) -> str:
        return "CANCELLED" if self.cancelled else self.script.states[self.step]

    @property
    def process_ids(self) -> list[str]:
        return [t.process_id for t in self.tasks]


@dataclass
class Submission:
    """One sbatch that created jobs (a plain job or an array)."""

    job_name: str
    fn: Callable[..., Any]
    params: dict[str, Any]
    job_ids: list[str]
    tasks: list[list[Task]]  # per element

    @property
    def process_ids(self) -> list[str]:
        return [t.process_id for element in self.tasks for t in element]


class FakeBackend:
    """In-memory Slurm (see the module docstring). Thread-safe: the daemon submits, the watcher
    queries and cancels."""

    name = "fake"

    def __init__(self, default: JobScript = JobScript()) -> None:
        self.default = default
        self.jobs: dict[str, FakeJob] = {}  # element id -> job, in submission order
        self.submissions: list[Submission] = []
        self.attempts = 0  # submit calls, failed ones included
        self.found: list[str] = []  # job names looked up (crash recovery, sbatch retries)
        self.cancelled: list[str] = []  # job ids scancelled
        self.pings = 0  # ping calls (the executor asking whether Slurm answers during an outage)
        self._scripts: deque[JobScript] = deque()
        self._faults: deque[tuple[BaseException, bool]] = deque()
        self._next_id = 1000
        self._lock = threading.RLock()

    # -- what a test scripts ----------------------------------------------------------------------
    def script(self, *scripts: JobScript) -> None:
        """The next elements submitted follow these scripts, in order (then ``default``)."""
        with self._lock:
            self._scripts.extend(scripts)

    def fail_submit(self, error: BaseException, times: int = 1, created: bool = False) -> None:
        """The next ``times`` submits raise ``error``; ``created``: after the job was created
        (sbatch went through but its answer was lost)."""
        with self._lock:
            self._faults.extend([(error, created)] * times)

    def extend(self, job_id: str, *states: str) -> None:
        """Let a held job go on, after the states of its script, through ``states`` (e.g.
        ``"COMPLETED"``: a held job that is still PENDING runs first)."""
        with self._lock:
            job = self.jobs[job_id]
            job.script = replace(job.script, states=job.script.states + states)

    def heal(self) -> None:
        """Slurm answers again: the submit failures still queued are dropped."""
        with self._lock:
            self._faults.clear()

    def jobs_of(self, process_id: str) -> list[FakeJob]:
        with self._lock:
            return [j for j in self.jobs.values() if process_id in j.process_ids]

    # -- the Backend protocol ---------------------------------------------------------------------
    def submit(
        self, fn: Callable[..., Any], element_args: list[Any], params: dict[str, Any], job_name: str, folder: Path
    ) -> list[str]:
        with self._lock:
            self.attempts += 1
            error, created = self._faults.popleft() if self._faults else (None, False)
            if error is not None and not created:
                raise error
            main = str(self._next_id)
            self._next_id += 1
            ids = [main] if len(element_args) == 1 else [f"{main}_{i}" for i in range(len(element_args))]
            for jid, tasks in zip(ids, element_args, strict=True):
                script = self._scripts.popleft() if self._scripts else self.default
                job = FakeJob(jid, job_name, list(tasks), dict(params), Path(folder), script)
                job.start = job.submit if job.state == "RUNNING" else None
                self.jobs[jid] = job
            self.submissions.append(Submission(job_name, fn, dict(params), ids, [list(t) for t in element_args]))
            if error is not None:
                raise error
            return ids

    def ping(self) -> None:
        """Fails as the next submit would (a queued fault, not spent), until :meth:`heal`."""
        with self._lock:
            self.pings += 1
            if self._faults and not self._faults[0][1]:
                raise self._faults[0][0]

    def find(self, job_name: str, since: float, elements: int) -> list[str] | None:
        with self._lock:
            self.found.append(job_name)
            ids = [jid for jid, job in self.jobs.items() if job.job_name == job_name]
            return ids if len(ids) == elements else None

    def query(self, job_ids: list[str]) -> dict[str, JobInfo]:
        with self._lock:
            out = {}
            for jid in job_ids:
                job = self.jobs.get(jid)
                if job is None:
                    continue  # unknown to squeue and sacct
                self._advance(job)
                cpus = int(job.params.get("tasks_per_node", 1)) * int(job.params.get("cpus_per_task", 1))
                out[jid] = JobInfo(
                    job_id=jid,
                    state=job.state,
                    nodes="fake1" if job.start else "",
                    submit=job.submit,
                    start=job.start,
                    end=job.end,
                    alloc_cpus=cpus,
                    name=job.job_name,
                )
            return out

    def cancel(self, job_ids: list[str]) -> None:
        with self._lock:
            for jid in job_ids:
                self.cancelled.append(jid)
                job = self.jobs.get(jid)
                if job is not None and job.state not in TERMINAL:
                    job.cancelled, job.end = True, time.time()

    def log_paths(self, job_id: str, folder: Path) -> tuple[Path, Path]:
        base = Path(folder) / job_id / f"{job_id}_0_log"  # submitit's names, as the real backends
        return base.with_suffix(".out"), base.with_suffix(".err")

    # -- a job's life -------------------------------------------------------------------------------
    def _advance(self, job: FakeJob) -> None:
        if job.cancelled or job.step + 1 >= len(job.script.states):
            return
        leaving = job.state
        if leaving == "RUNNING" and job.script.run and not job.ran:
            self._run(job)
        job.step += 1
        now = time.time()
        if job.state == "RUNNING" and job.start is None:
            job.start = now
        if job.state in TERMINAL:
            job.end = now
            if job.script.stderr:  # what srun or Slurm itself wrote as the job ended
                err = self.log_paths(job.job_id, job.folder)[1]
                err.parent.mkdir(parents=True, exist_ok=True)
                with open(err, "a") as fh:
                    fh.write(job.script.stderr + "\n")

    def _run(self, job: FakeJob) -> None:
        """What hpcq.job.runner.run_tasks does in the job: each task between begin/end markers,
        its Outcome file written by the real ``run_one``, its output in the element's logs."""
        job.ran = True
        out, err = self.log_paths(job.job_id, job.folder)
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(out, "a") as fo, open(err, "a") as fe:
            for task in job.tasks:
                for fh in (fo, fe):
                    print(BEGIN + task.process_id, file=fh, flush=True)
                with contextlib.redirect_stdout(fo), contextlib.redirect_stderr(fe):
                    run_one(task)
                for fh in (fo, fe):
                    print(END + task.process_id, file=fh, flush=True)


# --- ColonyOS --------------------------------------------------------------------------------------
@dataclass
class Call:
    msgtype: str
    msg: dict[str, Any]
    error: str = ""  # the refusal, or "" when the server accepted it
    lost: bool = False  # accepted, but the client got an error instead of the reply (inject after=True)


@dataclass
class _Fault:
    msgtype: str
    message: str
    times: int
    after: bool


def _key_id(prvkey: str) -> str:
    from crypto import Crypto  # pycolonies' own: the ids the server would recover

    return str(Crypto().id(prvkey))


class FakeColony(Colonies):
    """An in-memory ColonyOS behind pycolonies' client (see the module docstring). Processes are
    the embedded server's documents (hpcq.server: same fields, spec normalisation and rendering).
    A test submits with :meth:`submit` and reads the results with :meth:`state`, :meth:`process`,
    :meth:`closes`, :meth:`attributes` and :meth:`log_text`; :meth:`expire` and :meth:`inject`
    play the server's part in the decisions under test."""

    def __init__(self, colony: str = "dev", executor_type: str = "hpcq-fake", max_poll_s: float = 0.02) -> None:
        super().__init__("fake.invalid", 1)  # no connection is ever made
        self.colony = colony
        self.executor_type = executor_type
        self.max_poll_s = max_poll_s
        self.colony_prvkey, self.user_prvkey = new_prvkey(), new_prvkey()
        self.processes: dict[str, dict[str, Any]] = {}  # the server's documents, in submission order
        self.attrs: dict[str, list[dict[str, Any]]] = {}  # processid -> attributes
        self.executors: dict[str, dict[str, Any]] = {}  # by name
        self.functions: list[dict[str, Any]] = []
        self.logs: list[dict[str, Any]] = []
        self.files: list[dict[str, Any]] = []
        self.calls: list[Call] = []
        self._deadlines: dict[str, float] = {}  # processid -> monotonic exec deadline
        self._faults: list[_Fault] = []
        self._ids: dict[str, str] = {}
        self._cond = threading.Condition()
        self._handlers: dict[str, Callable[[dict[str, Any], str], Any]] = {
            "addexecutormsg": self._add_executor,
            "approveexecutormsg": self._approve_executor,
            "getexecutormsg": self._get_executor,
            "getexecutorsmsg": self._get_executors,
            "removeexecutormsg": self._remove_executor,
            "addfunctionmsg": self._add_function,
            "getfunctionsmsg": self._get_functions,
            "submitfuncspecmsg": self._submit,
            "assignprocessmsg": self._assign,
            "getprocessesmsg": self._list,
            "getprocessmsg": lambda msg, caller: self._render(self._member_process(msg, caller)),
            "closesuccessfulmsg": self._close_successful,
            "closefailedmsg": self._close_failed,
            "addattributemsg": self._add_attribute,
            "addlogmsg": self._add_log,
            "getlogsmsg": self._get_logs,
            "addfilemsg": self._add_file,
            "cancelprocessmsg": self._cancel,
        }

    # -- the client's one RPC method ---------------------------------------------------------------
    def _Colonies__rpc(self, msg: dict[str, Any], prvkey: str) -> Any:
        msg = copy.deepcopy(msg)
        kind = msg["msgtype"]
        with self._cond:
            self._sweep()
            fault = next((f for f in self._faults if f.msgtype == kind), None)
            if fault is not None and not fault.after:
                self._spend(fault)
                return self._refuse(Call(kind, msg), fault.message)
            handler = self._handlers.get(kind)
            try:
                if handler is None:
                    raise bad(f"invalid rpcMsg.PayloadType {kind}")
                reply = handler(msg, self._caller(prvkey))
            except RPCError as exc:
                return self._refuse(Call(kind, msg), exc.message)
            self.calls.append(Call(kind, msg, lost=fault is not None))
            if fault is not None:  # the server did it; the reply is lost
                self._spend(fault)
                raise ColoniesConnectionError(fault.message)
            return copy.deepcopy(reply)

    # the messages pycolonies 1.0.25 has no call for (hpcq's seam adds these methods)
    def cancel_process(self, processid: str, prvkey: str) -> None:
        self._Colonies__rpc({"msgtype": "cancelprocessmsg", "processid": processid}, prvkey)

    def add_file_ref(self, file: dict[str, Any], prvkey: str) -> Any:
        return self._Colonies__rpc({"msgtype": "addfilemsg", "file": file}, prvkey)

    # -- what a test does -----------------------------------------------------------------------
    def settings(self, **overrides: Any) -> Settings:
        """Client/executor settings for this colony (self-registration with the colony key)."""
        values = {"colony_name": self.colony, "colony_prvkey": self.colony_prvkey, "prvkey": self.user_prvkey}
        return Settings(**{**values, **overrides})

    def submit(
        self,
        funcname: str,
        params: dict[str, Any] | None = None,
        *,
        kwargs: dict[str, Any] | None = None,
        maxexectime: int = 3600,
        maxretries: int = 0,
        env: dict[str, str] | None = None,
        **conditions: Any,
    ) -> str:
        """Submit as the colony's user; returns the process id. ``conditions``: fields of the
        spec's conditions (``walltime`` 60 unless given); ``kwargs`` replaces the encoded
        ``params`` (to send what a foreign client might)."""
        unknown = set(conditions) - set(Conditions.model_fields)
        if unknown:
            raise TypeError(f"FakeColony.submit: no condition(s) {sorted(unknown)}")
        spec = FuncSpec(
            funcname=funcname,
            kwargs=encode_kwargs(params or {}) if kwargs is None else kwargs,
            priority=1,
            maxwaittime=-1,
            maxexectime=maxexectime,
            maxretries=maxretries,
            env=dict(env or {}),
            conditions=Conditions(
                **{"colonyname": self.colony, "executortype": self.executor_type, "walltime": 60, **conditions}
            ),
        )
        return str(self.submit_func_spec(spec, self.user_prvkey).processid)

    def process(self, processid: str) -> dict[str, Any]:
        """The process as a client reads it (the server's JSON)."""
        with self._cond:
            return copy.deepcopy(self._render(self.processes[processid]))

    def state(self, processid: str) -> ProcessState:
        with self._cond:
            return ProcessState(self.processes[processid]["state"])

    def closes(self, processid: str) -> list[str]:
        """The closes the server accepted for this process: "success" / "failed", in order."""
        kinds = {"closesuccessfulmsg": "success", "closefailedmsg": "failed"}
        with self._cond:
            return [
                kinds[c.msgtype]
                for c in self.calls
                if c.msgtype in kinds and not c.error and c.msg["processid"] == processid
            ]

    def attributes(self, processid: str) -> dict[str, str]:
        with self._cond:
            return {a["key"]: a["value"] for a in self.attrs.get(processid, []) if a["attributetype"] == 1}

    def log_text(self, processid: str) -> str:
        with self._cond:
            return "\n".join(entry["message"] for entry in self.logs if entry["processid"] == processid)

    def expire(self, processid: str) -> None:
        """Its maxexectime has passed now: re-queued with retries+1, or FAILED after maxretries."""
        with self._cond:
            self._deadlines[processid] = float("-inf")
            self._sweep()

    def inject(self, msgtype: str, message: str, times: int = 1, after: bool = False) -> None:
        """The next ``times`` calls of ``msgtype`` fail with ``message`` (a pycolonies error);
        ``after``: the next successful ones are carried out and only their reply is lost."""
        with self._cond:
            self._faults.append(_Fault(msgtype, message, times, after))

    # -- helpers ---------------------------------------------------------------------------------
    def _caller(self, prvkey: str) -> str:
        if prvkey not in self._ids:
            self._ids[prvkey] = _key_id(prvkey)
        return self._ids[prvkey]

    def _spend(self, fault: _Fault) -> None:
        fault.times -= 1
        if fault.times <= 0:
            self._faults.remove(fault)

    def _refuse(self, call: Call, message: str) -> Any:
        call.error = message
        self.calls.append(call)
        raise ColoniesConnectionError(message)

    def _render(self, p: dict[str, Any]) -> dict[str, Any]:
        return render_process(p, self.attrs.get(p["processid"], []))

    def _executor(self, caller: str) -> dict[str, Any] | None:
        return next((e for e in self.executors.values() if e["executorid"] == caller and e["state"] == 1), None)

    def _require_owner(self, caller: str) -> None:
        if caller != self._caller(self.colony_prvkey):
            raise forbidden("Access denied, not colony owner")

    def _require_member(self, caller: str) -> None:
        if caller != self._caller(self.user_prvkey) and self._executor(caller) is None:
            raise forbidden("Access denied, not member of colony")

    def _load(self, processid: str) -> dict[str, Any]:
        p = self.processes.get(processid)
        if p is None:
            raise notfound(f"Process with id <{processid}> not found")
        return p

    def _assigned(self, processid: str, caller: str, running: bool = True) -> dict[str, Any]:
        """The process, which only its assignee may report on (while RUNNING)."""
        p = self._load(processid)
        if not p["isassigned"] or p["assignedexecutorid"] != caller:
            raise forbidden("Access denied, not assigned executor of process")
        if running and p["state"] != ProcessState.RUNNING:
            raise bad(f"process is {ProcessState(p['state']).label}, not running")
        return p

    def _finish(self, p: dict[str, Any], state: ProcessState) -> None:
        p.update(state=state, endtime=now_ns())
        self._deadlines.pop(p["processid"], None)
        self._cond.notify_all()

    def _sweep(self) -> None:
        """maxexectime expiry as the server's timeout loop does it (hpcq.server.timeouts)."""
        now = time.monotonic()
        for pid, due in list(self._deadlines.items()):
            p = self.processes[pid]
            if p["state"] != ProcessState.RUNNING:
                del self._deadlines[pid]
                continue
            if due > now:
                continue
            maxretries = p["spec"]["maxretries"]
            if maxretries > -1 and p["retries"] >= maxretries:
                p["errors"] = [EXEC_TIMEOUT_MSG]
                self._finish(p, ProcessState.FAILED)
                continue
            del self._deadlines[pid]
            p.update(state=ProcessState.WAITING, isassigned=False, assignedexecutorid="", execdeadline=0)
            p.update(retries=p["retries"] + 1, endtime=now_ns())
            self._cond.notify_all()

    # -- executors and functions ----------------------------------------------------------------
    def _add_executor(self, msg: dict[str, Any], caller: str) -> dict[str, Any]:
        self._require_owner(caller)
        ex = {**msg["executor"], "state": 0}  # pending until approved
        self.executors[ex["executorname"]] = ex
        return ex

    def _named_executor(self, msg: dict[str, Any]) -> dict[str, Any]:
        ex = self.executors.get(msg["executorname"])
        if ex is None:
            raise notfound(f"Executor with name <{msg['executorname']}> not found")
        return ex

    def _approve_executor(self, msg: dict[str, Any], caller: str) -> dict[str, Any]:
        self._require_owner(caller)
        self._named_executor(msg)["state"] = 1
        return {}

    def _get_executor(self, msg: dict[str, Any], caller: str) -> dict[str, Any]:
        ex = self._named_executor(msg)  # looked up first, as colonies does
        self._require_member(caller)
        return ex

    def _get_executors(self, msg: dict[str, Any], caller: str) -> list[dict[str, Any]] | None:
        # membership without approval: a pending executor may list (colonies' RequireMembership(..., false))
        if caller != self._caller(self.user_prvkey) and all(e["executorid"] != caller for e in self.executors.values()):
            raise forbidden("Access denied, not member of colony")
        return list(self.executors.values()) or None

    def _remove_executor(self, msg: dict[str, Any], caller: str) -> dict[str, Any]:
        self._require_owner(caller)
        del self.executors[self._named_executor(msg)["executorname"]]
        self.functions = [f for f in self.functions if f["executorname"] != msg["executorname"]]
        return {}

    def _get_executors(self, msg: dict[str, Any], caller: str) -> list[dict[str, Any]] | None:
        self._require_member(caller)
        return [
            render_executor({"commissiontime": 0, "lastheardfromtime": 0, **ex}) for ex in self.executors.values()
        ] or None

    def add_site_executor(
        self, name: str, site: str, capabilities: dict[str, Any] | None, *, alive: bool = True, executortype: str = ""
    ) -> dict[str, Any]:
        """An approved executor of ``site`` (its locationname) with ``capabilities``, as
        ``hpcq executor start --site`` registers one; ``alive``: heard from just now (else never)."""
        ex = {
            "executorname": name,
            "executorid": random_id(),
            "executortype": executortype or self.executor_type,
            "colonyname": self.colony,
            "state": 1,
            "locationname": site,
            "capabilities": capabilities or {"hardware": None, "software": None},
            "lastheardfromtime": now_ns() if alive else 0,
        }
        self.executors[name] = ex
        return ex

    def _add_function(self, msg: dict[str, Any], caller: str) -> dict[str, Any]:
        fun = msg["fun"]
        ex = self._executor(caller)
        if ex is None or ex["executorname"] != fun["executorname"]:
            raise forbidden("Access denied, not the executor named in the function")
        stored = {**fun, "functionid": random_id(), "executortype": ex["executortype"], "counter": 0}
        self.functions.append(stored)
        return stored

    def _get_functions(self, msg: dict[str, Any], caller: str) -> list[dict[str, Any]] | None:
        self._require_member(caller)
        name = msg.get("executorname")
        found = [f for f in self.functions if name is None or f["executorname"] == name]
        return found or None  # Go's nil slice

    # -- processes ---------------------------------------------------------------------------------
    def _submit(self, msg: dict[str, Any], caller: str) -> dict[str, Any]:
        self._require_member(caller)
        p = new_process(normalise_spec(msg["spec"]), caller, "user", now_ns())
        self.processes[p["processid"]] = p
        self._cond.notify_all()
        return self._render(p)

    def _assign(self, msg: dict[str, Any], caller: str) -> dict[str, Any]:
        """FIFO among the WAITING processes of the executor's type; long-poll up to ``max_poll_s``."""
        ex = self._executor(caller)
        if ex is None:
            raise forbidden("Access denied, executor not found or not approved")
        ex["lastheardfromtime"] = now_ns()  # assign is the liveness signal
        end = time.monotonic() + min(max(float(msg["timeout"]), 0.0), self.max_poll_s)
        while True:
            for p in self.processes.values():
                cond = p["spec"]["conditions"]
                names = cond.get("executornames") or []
                loc = (cond.get("locationname") or "").lower()
                if (
                    p["state"] == ProcessState.WAITING
                    and cond["executortype"] == ex["executortype"]
                    and (not names or ex["executorname"] in names)
                    and loc in ("", (ex.get("locationname") or "").lower())
                ):
                    return self._start(p, caller)
            left = end - time.monotonic()
            if left <= 0:
                raise notfound(NO_PROCESS)
            self._cond.wait(left)
            self._sweep()

    def _start(self, p: dict[str, Any], caller: str) -> dict[str, Any]:
        now, maxexectime = now_ns(), p["spec"]["maxexectime"]
        p.update(state=ProcessState.RUNNING, isassigned=True, assignedexecutorid=caller, starttime=now)
        p["execdeadline"] = deadline(now, maxexectime)
        if maxexectime >= 0:  # 0: no deadline, so expired at the server's next timeout sweep
            self._deadlines[p["processid"]] = time.monotonic() + (maxexectime or RELEASE_PERIOD_S)
        return self._render(p)

    def _list(self, msg: dict[str, Any], caller: str) -> list[dict[str, Any]] | None:
        self._require_member(caller)
        if msg["count"] > 100:
            raise bad("Count exceeds max count (100)")
        found = [self._render(p) for p in self.processes.values() if p["state"] == msg["state"]]
        return found[: msg["count"]] or None  # Go's nil slice

    def _member_process(self, msg: dict[str, Any], caller: str) -> dict[str, Any]:
        self._require_member(caller)
        return self._load(msg["processid"])

    def _close_successful(self, msg: dict[str, Any], caller: str) -> dict[str, Any]:
        p = self._assigned(msg["processid"], caller)
        p["out"] = list(msg.get("out") or [])
        self._finish(p, ProcessState.SUCCESS)
        return {}

    def _close_failed(self, msg: dict[str, Any], caller: str) -> dict[str, Any]:
        p = self._assigned(msg["processid"], caller, running=False)
        if ProcessState(p["state"]).final:
            raise bad(f"Failed to close process as failed, process is already {ProcessState(p['state']).label}")
        p["errors"] = list(msg.get("errors") or [])
        self._finish(p, ProcessState.FAILED)
        return {}

    def _cancel(self, msg: dict[str, Any], caller: str) -> dict[str, Any]:
        p = self._member_process(msg, caller)
        if ProcessState(p["state"]).final:
            raise bad(f"Tried to cancel {ProcessState(p['state']).label} process")
        self._finish(p, ProcessState.CANCELLED)
        return {}

    # -- attributes, logs, files ------------------------------------------------------------------
    def _add_attribute(self, msg: dict[str, Any], caller: str) -> dict[str, Any]:
        attr = msg["attribute"]
        p = self._assigned(attr["targetid"], caller)
        aid = attribute_id(attr["targetid"], attr["key"], attr["attributetype"])
        attrs = self.attrs.setdefault(p["processid"], [])
        if any(a["attributeid"] == aid for a in attrs):
            raise bad(f"attribute {attr['key']} already exists")  # its id is derived from the key
        stored = {**attr, "attributeid": aid, "targetcolonyname": self.colony, "state": p["state"]}
        attrs.append(stored)
        return stored

    def _add_log(self, msg: dict[str, Any], caller: str) -> dict[str, Any]:
        p = self._assigned(msg["processid"], caller)
        entry = {"processid": p["processid"], "colonyname": self.colony, "message": msg["message"], "timestamp": 0}
        self.logs.append(entry)
        return {}

    def _get_logs(self, msg: dict[str, Any], caller: str) -> list[dict[str, Any]] | None:
        self._require_member(caller)
        return [entry for entry in self.logs if entry["processid"] == msg["processid"]] or None

    def _add_file(self, msg: dict[str, Any], caller: str) -> dict[str, Any]:
        self._require_member(caller)
        stored = {**msg["file"], "fileid": random_id(), "added": gotime(now_ns())}
        self.files.append(stored)
        return stored


# --- the executor on the fakes ---------------------------------------------------------------------
# Fast timings for the watcher: below ExecutorSettings' ranges (which protect a real site), so the
# fakes build the model with ``model_construct`` (no range check) — the names are the model's own.
FAST_TUNING: dict[str, Any] = {
    "poll_s": 0.005,
    "query_every_s": 0.01,
    "query_young_s": 0.005,
    "log_every_s": 0.02,
    "colony_every_s": 0.05,
    "grace_s": 0.02,
    "backoff_max_s": 0.05,
    "wait_server_s": 0.0,
}


def make_executor(tmp_path: Path, backend: FakeBackend, colony: FakeColony, **tuning: Any) -> Executor:
    """An Executor on the fakes, with its state under ``tmp_path/<name>`` (the same name again is
    the same executor restarted: same key, journal and jobs folder). ``tuning``: fields of
    hpcq.config.ExecutorSettings; timings default to fast ones. The one place the tests construct
    an Executor. ``site``: its --site (default: the profile's name)."""
    name = str(tuning.pop("name", "fake-exec"))
    site = tuning.pop("site", None)
    unknown = set(tuning) - set(ExecutorSettings.model_fields)
    if unknown:
        raise TypeError(f"make_executor: unknown tuning {sorted(unknown)}: use ExecutorSettings' field names")
    defaults = ExecutorSettings().model_dump()
    tuned = ExecutorSettings.model_construct(**{**defaults, "type": colony.executor_type, **FAST_TUNING, **tuning})
    settings = colony.settings()
    settings.executor = tuned
    root = Path(tmp_path) / name
    paths = Paths.under(root / "state", root / "jobs", root / "results")
    return Executor(settings, paths, name=name, backend=backend, client=colony, site=site)


@dataclass
class Serving:
    """An executor's main loop running in a thread (what `hpcq executor start` runs)."""

    executor: Executor
    thread: threading.Thread
    error: BaseException | None = None

    @property
    def crashed(self) -> bool:
        return isinstance(self.error, Crash)


@contextlib.contextmanager
def serving(ex: Executor, join_s: float = 10.0) -> Iterator[Serving]:
    """Run ``ex.run()`` in a thread until the block ends, then stop it as SIGTERM would. An
    exception of the loop is raised here, except :class:`Crash` (see ``Serving.crashed``)."""
    state = Serving(ex, threading.Thread())

    def main() -> None:
        try:
            ex.run()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            state.error = exc

    state.thread = threading.Thread(target=main, name="hpcq-fake-executor", daemon=True)
    state.thread.start()
    try:
        yield state
    finally:
        ex.stop()
        state.thread.join(join_s)
        if state.thread.is_alive():
            raise AssertionError(f"the executor did not stop within {join_s} s")
    if state.error is not None and not state.crashed:
        raise state.error


def outputs(colony: FakeColony, processid: str) -> tuple[str, dict[str, Any]]:
    """A successful process's output as hpcq's executor closes it: (result ref, summary)."""
    out = colony.process(processid)["out"]
    return out[0], json.loads(out[1])
