"""Dynamic task distribution over MPI ranks (rank 0 hands out task indices on request).

Why this shape: tasks differ in cost by orders of magnitude (qubits, method, maxiter), so a static
split leaves ranks idle. Rank 0 computes tasks too (a dedicated master would waste a core) and
serves requests from a helper thread. Every wait polls with a short sleep instead of blocking in
MPI, because MPICH busy-waits in blocking calls and would steal the cores Aer is using.
Results (pickled TaskResults) go to rank 0 as each worker finishes.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from hpcq.mpi import POLL_S, TAG_REQUEST, TAG_RESULTS, TAG_TASK, poll_recv


def _safe(work: Callable[[Any], Any], task: Any, rank: int):
    try:
        return ("ok", work(task))
    except Exception:  # noqa: BLE001 - reported to rank 0, raised there with the traceback
        return ("error", (getattr(task, "task_id", repr(task)), rank, traceback.format_exc()))


class TaskFailed(RuntimeError):
    pass


@dataclass(frozen=True)
class TaskFailure:
    """A task that raised (``run_tasks(keep_failures=True)``): recorded, the others go on."""

    task_id: str
    rank: int
    error: str  # the exception's last line: 'ValueError: ...'
    traceback: str


def _unwrap(outcomes: list, keep_failures: bool = False) -> list:
    errors = [v for kind, v in outcomes if kind == "error"]
    if keep_failures:
        return [
            v if kind == "ok" else TaskFailure(v[0], v[1], v[2].strip().splitlines()[-1], v[2]) for kind, v in outcomes
        ]
    if errors:
        msg = "; ".join(f"task {tid} failed on rank {r}: {tb.strip().splitlines()[-1]}" for tid, r, tb in errors)
        raise TaskFailed(msg + "\n\n" + "\n".join(tb for _, _, tb in errors))
    return [v for _, v in outcomes]


def run_tasks(
    tasks: Sequence[Any],
    work: Callable[[Any], Any],
    comm=None,
    order: Sequence[int] | None = None,
    keep_failures: bool = False,
) -> list | None:
    """Run ``work(task)`` for every task across the ranks of ``comm`` (None = this process only).

    ``order``: the sequence in which task indices are handed out (e.g. most expensive first).
    Returns all results on rank 0 (in completion order), None on other ranks. A failing task
    raises TaskFailed on rank 0 after every rank is done (the others return None); with
    ``keep_failures`` it is returned as a TaskFailure among the results instead."""
    order = list(range(len(tasks))) if order is None else list(order)
    if comm is None or comm.Get_size() == 1:
        return _unwrap([_safe(work, tasks[i], 0) for i in order], keep_failures)
    rank, size = comm.Get_rank(), comm.Get_size()
    if rank != 0:
        mine = []
        while True:
            comm.send(rank, dest=0, tag=TAG_REQUEST)
            idx, _ = poll_recv(comm, 0, TAG_TASK)
            if idx is None:
                break
            mine.append(_safe(work, tasks[idx], rank))
        comm.send(mine, dest=0, tag=TAG_RESULTS)
        return None

    from mpi4py import MPI

    queue = deque(order)
    lock = threading.Lock()
    gathered: list = []

    def next_index():
        with lock:
            return queue.popleft() if queue else None

    def serve():
        pending = size - 1  # workers that have not sent their results yet
        status = MPI.Status()
        while pending:
            if not comm.iprobe(source=MPI.ANY_SOURCE, tag=MPI.ANY_TAG, status=status):
                time.sleep(POLL_S)
                continue
            src, tag = status.Get_source(), status.Get_tag()
            msg = comm.recv(source=src, tag=tag)
            if tag == TAG_REQUEST:
                comm.send(next_index(), dest=src, tag=TAG_TASK)
            elif tag == TAG_RESULTS:
                gathered.extend(msg)
                pending -= 1

    server = threading.Thread(target=serve, name="hpcq-dispatch", daemon=True)
    server.start()
    local = []
    while (idx := next_index()) is not None:
        local.append(_safe(work, tasks[idx], 0))
    server.join()
    return _unwrap(local + gathered, keep_failures)
