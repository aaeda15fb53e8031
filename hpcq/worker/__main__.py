"""``python -m hpcq.worker SWEEP.json --out DIR``: run a sweep inside an allocation.

Works as one process, under ``mpiexec -n N`` and under ``srun --mpi=pmi2 -n N``. Threads per rank
come from --threads, else SLURM_CPUS_PER_TASK, else OMP_NUM_THREADS, else 1. SIGUSR1 prints every
rank's Python stacks on stderr (``scancel --signal=USR1 JOBID``, or ``kill -USR1`` under mpiexec).
"""

from __future__ import annotations

import json
import os
import sys

import click


@click.command()
@click.argument("sweep_json", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="directory for the HDF5 result file (created if missing)",
)
@click.option(
    "--threads",
    type=int,
    default=None,
    help="Aer threads per rank (default: Slurm's cpus-per-task, else OMP_NUM_THREADS, else 1)",
)
@click.option("--process-id", default="", help="ColonyOS process id to record in provenance")
@click.option("-q", "--quiet", is_flag=True, help="no per-task progress lines on stderr")
def main(sweep_json: str, out_dir: str, threads: int | None, process_id: str, quiet: bool) -> None:
    import logging

    from hpcq.logfmt import dump_stacks_on_signal

    dump_stacks_on_signal()  # before MPI starts: SIGUSR1 prints where each rank is (a launch that hangs)
    from hpcq.cliopts import configure_logging
    from hpcq.threads import pin_threads, threads_per_rank

    configure_logging()  # the one basicConfig every command shares: warnings from everything else
    logging.getLogger("hpcq").setLevel(logging.WARNING if quiet else logging.INFO)
    threads = threads or threads_per_rank()
    pin_threads(threads)  # before anything starts Aer's OpenMP runtime
    from hpcq.functions import JobContext
    from hpcq.mpi import mpi_world
    from hpcq.sim.spec import parse_sweep
    from hpcq.worker.entry import run_sweep

    try:
        with open(sweep_json) as fh:
            params = parse_sweep(json.load(fh))
    except (ValueError, json.JSONDecodeError) as exc:
        raise click.ClickException(f"{sweep_json}: {exc}") from None
    os.makedirs(out_dir, exist_ok=True)
    comm = mpi_world()
    ctx = JobContext.from_env(
        process_id,
        out_dir,
        threads=threads,
        rank_size=(comm.Get_rank(), comm.Get_size()) if comm else (0, 1),
        extra={"command": " ".join(["python -m hpcq.worker", *sys.argv[1:]])},
    )
    result = run_sweep(params, ctx)
    if result is not None:
        click.echo(json.dumps({"summary": result.summary, "files": result.files}, indent=2))


if __name__ == "__main__":
    main()
