"""What Slurm's error messages mean to hpcq, and the verdict on a job that ended without a result.

One place for every Slurm message hpcq reacts to, imported by the daemon (sbatch retries), the
watcher (lost jobs) and the tests, so that a new message is taught to all of them at once.
"""

from __future__ import annotations

from hpcq.logfmt import BEGIN

# sbatch/squeue errors worth retrying (controller down or busy), vs. a request Slurm refuses.
TRANSIENT_SLURM = (
    "Unable to contact slurm controller",
    "Socket timed out",
    "temporarily unavailable",
    "Connection refused",
    "Zero Bytes were transmitted",
    "Resource temporarily unavailable",
    "did not answer in",
    "Slurm temporarily unable",
    "Transport endpoint",
)
# srun inside the job could not reach slurmctld (controller down while the step launched)
INFRA_MARKERS = ("Unable to contact slurm controller", "Unable to confirm allocation", "Socket timed out on send/recv")
# MPI itself failed to start (pip MPICH/UCX address exchange, seen rarely here): the function
# had not computed anything yet, even though the runner had already printed its begin marker
MPI_START_MARKERS = (
    "Fatal error in internal_Init_thread",
    "Fatal error in PMPI_Init",
    # pip MPICH/UCX start-up faults seen on the lab VM: a garbled PMI2 request, a UCX address mismatch
    "mpi/pmi2: invalid client request",
    "UCP_OBJECT_VERSION_V2' failed",
)
INFRA_RETRIES = 3  # resubmissions of a process whose job died of Slurm itself before the function ran
LOST_QUERIES = 2  # a final state must be seen by this many job queries ...
# ... at least ExecutorSettings.grace_s apart, with still no outcome file, before a job counts as lost


def is_transient(exc: BaseException | str) -> bool:
    """sbatch/squeue failed because Slurm was unavailable for a moment (retry), not because it refused."""
    text = str(exc).lower()
    return any(m.lower() in text for m in TRANSIENT_SLURM)


def is_lost(terminal_seen: int, terminal_for_s: float | None, grace_s: float, has_outcome: bool) -> bool:
    """The job ended (final state seen ``terminal_seen`` times, the first ``terminal_for_s`` ago)
    and left no outcome file after ``grace_s``: its process gets no result from it."""
    return (
        terminal_for_s is not None and terminal_seen >= LOST_QUERIES and terminal_for_s >= grace_s and not has_outcome
    )


def mpi_start_failed(stderr: str) -> bool:
    """MPI itself failed to start (see MPI_START_MARKERS): nothing was computed, a rerun may work."""
    return any(m in stderr for m in MPI_START_MARKERS)


def died_before_running(process_id: str, stderr: str) -> bool:
    """A lost job whose stderr (every rank's) shows it died of Slurm or MPI start-up before the
    function computed anything: worth a fresh job instead of a FAILED process."""
    began = BEGIN + process_id in stderr
    return (not began and any(m in stderr for m in INFRA_MARKERS)) or mpi_start_failed(stderr)
