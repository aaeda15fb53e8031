"""The callable submitit runs in the Slurm job: run each Task in turn and write its Outcome.

One array element (or one plain job) gets a list of Tasks. Packing several tasks into one
element runs them one after another in the same Python process; every task still writes its
own Outcome file, so the executor closes each ColonyOS process as soon as it is done.
Exceptions become an Outcome with the traceback; the job itself exits 0 so that Slurm states
other than COMPLETED always mean something outside the function (TIMEOUT, OOM, NODE_FAIL, ...).

SIGUSR2 (Slurm's time-limit warning, ``--signal=USR2@lead``; Slurm may send it up to a minute
early, so even at job start) must never kill a job: every rank is started through
``job_python_command``, which ignores USR2 before Python's first instruction (SIG_IGN survives
exec), and ``run_tasks`` installs hpcq's handler as its first statement. The lead itself follows
the walltime (hpcq.executor.profiles.signal_lead_s).

SIGUSR1 prints every rank's Python stacks into the job's stderr (hpcq.logfmt.dump_stacks_on_signal):
``scancel --signal=USR1 JOBID`` on a job that seems stuck, then ``hpcq logs``.
"""

from __future__ import annotations

import shlex
import signal
import sys
import time
import traceback
from pathlib import Path

from hpcq.job.context import build_context
from hpcq.job.task import Outcome, Task
from hpcq.logfmt import BEGIN, END, dump_stacks_on_signal
from hpcq.threads import pin_threads, threads_per_rank


def job_python_command(python: str | None = None) -> str:
    """The shell command submitit runs on every rank in place of ``python``: bash ignores USR2 and
    execs Python, which inherits SIG_IGN (srun's tasks start with default signals, so this cannot
    be done in the sbatch script itself)."""
    return "bash -c " + shlex.quote('trap "" USR2; exec "$0" "$@"') + " " + shlex.quote(python or sys.executable)


def _warn_time_limit(signum, frame) -> None:  # noqa: ARG001
    # submitit's default handler would requeue or raise; hpcq lets Slurm end the job so that
    # sacct reports TIMEOUT, which the executor turns into the process error.
    print(
        "[hpcq] Slurm time-limit warning received; the job will be killed at its time limit",
        file=sys.stderr,
        flush=True,
    )


def _mark(line: str) -> None:
    print(line, flush=True)
    print(line, file=sys.stderr, flush=True)


def run_one(task: Task) -> Outcome:
    from hpcq import functions

    ctx = build_context(task.process_id, task.workdir, task.inputs, task.gpu, task.site, task.executor, task.extra)
    out = Outcome(
        process_id=task.process_id,
        ok=False,
        started=time.time(),
        slurm_job_id=ctx.slurm_job_id,
        nodes=ctx.nodes,
        hostname=ctx.extra.get("hostname", ""),
        ranks=ctx.size,
        threads=ctx.threads,
    )
    try:
        # inside the try: a read-only or full results filesystem becomes the process error
        Path(task.workdir).mkdir(parents=True, exist_ok=True)
        fd = functions.get(task.funcname)
        result = fd.load()(dict(task.params), ctx)
        out.ok = True
        if result is not None:
            out.summary = dict(result.summary or {})
            out.files = [str((Path(task.workdir) / f).resolve()) for f in (result.files or [])]
    except BaseException as exc:  # noqa: BLE001 - the job must report every failure, incl. SystemExit
        tb = traceback.format_exc()
        print(tb, file=sys.stderr, flush=True)
        out.ok = False
        out.error = f"{type(exc).__name__}: {exc}\n{tb[-3000:]}"
    out.finished = time.time()
    if ctx.rank == 0:
        out.write(task.outcome_path)
    return out


def run_tasks(tasks: list[Task]) -> list[dict]:
    """Entry point pickled by submitit (one call per Slurm job or array element)."""
    signal.signal(signal.SIGUSR2, _warn_time_limit)  # first: replaces submitit's requeue handler
    dump_stacks_on_signal()  # before MPI starts: scancel --signal=USR1 shows where a stuck job is
    try:
        pin_threads(threads_per_rank())
        summaries = []
        for task in tasks:
            _mark(BEGIN + task.process_id)
            out = run_one(task)
            _mark(END + task.process_id)
            summaries.append({"process_id": task.process_id, "ok": out.ok})
        return summaries
    finally:
        # ignored, not default: Python resets the signals it handles to SIG_DFL when it exits, so a
        # warning arriving while submitit writes the result and the interpreter shuts down would kill
        # a finished job (seen on the lab cluster)
        signal.signal(signal.SIGUSR2, signal.SIG_IGN)
