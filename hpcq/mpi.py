"""MPI helpers shared by every code that runs inside a Slurm job (worker, simulation, primitives, sessions).

Every wait polls with a short sleep instead of blocking in MPI, because MPICH busy-waits in blocking
calls and would steal the cores Aer is using. mpi4py is imported only when a helper runs, so importing
this module costs nothing on a login node or a laptop.
"""

from __future__ import annotations

import time

TAG_REQUEST, TAG_TASK, TAG_RESULTS, TAG_GATHER = 11, 12, 13, 14
POLL_S = 0.002


def mpi_world():
    """COMM_WORLD when mpi4py is importable and more than one rank runs, else None."""
    import os

    if os.environ.get("HPCQ_NO_MPI") == "1":
        return None
    try:
        from mpi4py import MPI
    except ImportError:
        return None
    comm = MPI.COMM_WORLD
    return comm if comm.Get_size() > 1 else None


def poll_recv(comm, source: int, tag: int):
    from mpi4py import MPI

    status = MPI.Status()
    while not comm.iprobe(source=source, tag=tag, status=status):
        time.sleep(POLL_S)
    return comm.recv(source=status.Get_source(), tag=tag), status.Get_source()


def polling_barrier(comm) -> None:
    """Barrier that sleeps instead of spinning: a rank that finished early (or is about to enter
    MPI_Finalize, which MPICH also busy-waits in) must not burn a core another rank computes on."""
    if comm is None or comm.Get_size() == 1:
        return
    req = comm.Ibarrier()
    while not req.Test():
        time.sleep(POLL_S * 5)


def polling_allgather(comm, obj) -> list:
    """Every rank's ``obj``, in rank order, on every rank; waits by polling (see polling_barrier).
    Used by trajectories split over ranks, once per energy evaluation."""
    rank, size = comm.Get_rank(), comm.Get_size()
    reqs = [comm.isend(obj, dest=r, tag=TAG_GATHER) for r in range(size) if r != rank]
    out: list = [None] * size
    out[rank] = obj
    for r in range(size):
        if r != rank:
            out[r], _ = poll_recv(comm, r, TAG_GATHER)
    for q in reqs:
        while not q.Test():
            time.sleep(POLL_S)
    return out
