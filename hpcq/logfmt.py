"""Log lines that other programs read: the job runner's markers and the executor's lines that the
watcher, the tests, the fault suite and the benchmarks parse. Code and tests import them from here,
so a reworded line cannot silently break a parser.
"""

from __future__ import annotations

import re

# printed by the job runner (hpcq.job.runner) on stdout and stderr around each task of an element
BEGIN = "[hpcq] begin process "
END = "[hpcq] end process "

# a rank's Python stacks on stderr (the job's log) when it gets this signal (dump_stacks_on_signal):
# ``scancel --signal=USR1 JOB`` shows where every rank of a job that seems stuck is
STACK_SIGNAL = "USR1"
STACK_FRAME_RE = re.compile(r'^\s*File "([^"]+)", line \d+ in (\S+)', re.M)  # a frame of faulthandler's dump
# the header of one thread's stack in that dump
STACK_DUMP_RE = re.compile(r"^(?:Current thread|Thread) 0x[0-9a-f]+ \(most recent call first\):", re.M)

# the executor's logger (every hpcq.executor module logs under this one name)
EXECUTOR_LOG = "hpcq.executor"
# the executor (hpcq.executor.daemon/watcher), logger EXECUTOR_LOG
CLOSED = "closed process=%s as=%s job=%s"  # one line per close RPC the server accepted
CLOSED_RE = re.compile(r"closed process=([0-9a-f]{64}) as=(\w+)")
ADOPTING = "adopting %d process(es) with jobs in Slurm"  # at start: jobs of an earlier incarnation
ADOPTING_RE = re.compile(r"adopting (\d+) process\(es\) with jobs in Slurm")
SERVING = "serving colony %s"  # the executor is up and assigning
BEGIN_RE = re.compile(r"^" + re.escape(BEGIN) + r"([0-9a-f]{64})", re.M)


def dump_stacks_on_signal() -> None:
    """Every thread's Python stack to stderr on SIGUSR1 (STACK_SIGNAL). faulthandler writes it from
    C, so it also answers while the rank is stuck inside MPI or Aer, where a Python handler never runs."""
    import faulthandler
    import signal
    import sys

    # in a job sys.stderr is the job's log; called in-process (a test's captured stderr, a notebook)
    # it may have no file descriptor: then the process's own fd 2, and nothing where there is none
    for out in (sys.stderr, sys.__stderr__):
        try:
            faulthandler.register(getattr(signal, "SIG" + STACK_SIGNAL), file=out, all_threads=True)
            return
        except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is both of the last two
            continue
