"""``hpcq run STUDY.yaml [--ranks N] [--results DIR]``: develop locally, then scale.

Runs a study on this machine with the same MPI worker the Slurm job runs (``python -m hpcq.worker``
under ``mpiexec``), with no server and no Slurm, so the HDF5 files are the ones a cluster run writes
and ``hpcq results ls --results DIR`` reads them. The study is parsed by hpcq.client.study, exactly as
``hpcq submit`` parses it, so a study that runs here is one that submits.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import click

MPIEXEC_ENV = "HPCQ_MPIEXEC"  # override the mpiexec to use (path)
INSTALL_MPI = "pip install mpich (into this environment), or install an MPI that provides mpiexec"


def find_mpiexec() -> str | None:
    """$HPCQ_MPIEXEC, else the mpiexec next to this Python (pip ``mpich``), else the one on PATH."""
    if os.environ.get(MPIEXEC_ENV):
        p = os.environ[MPIEXEC_ENV]
        return p if shutil.which(p) else None
    local = Path(sys.executable).parent / "mpiexec"
    if local.exists():
        return str(local)
    return shutil.which("mpiexec")


def _worker_env() -> dict[str, str]:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}")
    env.setdefault("PYTHONHASHSEED", "0")  # parallel: statevector needs identical circuits on every rank
    for var in ("SLURM_JOB_ID", "SLURM_CPUS_PER_TASK", "SLURM_JOB_NODELIST", "HPCQ_NO_MPI"):
        env.pop(var, None)  # a local run is not part of any allocation
    return env


def machine_memory_bytes() -> int:
    """Memory this machine can give the run now: MemAvailable on Linux, else the physical total."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def check_fits(params, ranks: int, available: int) -> int:
    """THE memory model (hpcq.sim.memory, as the executor's admission check) against this machine:
    every rank holds its own task's state, except parallel: statevector, where the ranks share one."""
    from hpcq.sim.memory import SizingError, advice, fmt_bytes

    shared = ranks if params.parallel == "statevector" else 1
    try:
        per_rank = params.memory_per_rank_bytes(ranks=shared)
    except SizingError as exc:
        raise click.ClickException(f"--ranks {ranks}: {exc}") from None
    need = per_rank * ranks
    if need > available:
        big = max(params.tasks(), key=lambda t: t.footprint(shared).rank_bytes)
        hint = advice(big.simulated_qubits, big.resolved_method, big.precision, available / ranks)
        raise click.ClickException(
            f"{params.study} needs {fmt_bytes(per_rank)} per rank x {ranks} rank(s) = {fmt_bytes(need)}, "
            f"but this machine has {fmt_bytes(available)} available ({hint}); use fewer ranks, a smaller "
            "study, or submit it to a cluster (hpcq submit)"
        )
    return need


def _summary(stdout: str) -> dict:
    """Rank 0 prints {"summary": ..., "files": [...]} as the last thing on stdout."""
    start = stdout.find("{")
    if start < 0:
        raise click.ClickException(f"the worker printed no summary:\n{stdout[-2000:]}")
    return json.loads(stdout[start:])


@click.command()
@click.argument("study_file", type=click.Path(dir_okay=False))
@click.option("--ranks", "-n", type=click.IntRange(1, 256), default=1, show_default=True, help="MPI ranks")
@click.option("--threads", type=click.IntRange(1, 1024), default=1, show_default=True, help="Aer threads per rank")
@click.option(
    "--results",
    "results_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="folder for the HDF5 files (default: ./hpcq-runs/STUDY_NAME)",
)
@click.option("-q", "--quiet", is_flag=True, help="no per-task progress lines from the worker")
def run(study_file: str, ranks: int, threads: int, results_dir: str | None, quiet: bool) -> None:
    """Run STUDY_FILE on this machine (the MPI worker under mpiexec; no server, no Slurm)."""
    from hpcq.client.study import StudyError, load_study

    try:
        study = load_study(study_file)
    except StudyError as exc:
        raise click.ClickException(str(exc)) from None
    mpiexec = find_mpiexec()
    if mpiexec is None:
        where = (
            f" ({MPIEXEC_ENV}={os.environ[MPIEXEC_ENV]} is not an executable)" if os.environ.get(MPIEXEC_ENV) else ""
        )
        raise click.ClickException(f"mpiexec not found{where}; `hpcq run` needs it to start the worker: {INSTALL_MPI}")
    check_fits(study.params, ranks, machine_memory_bytes())
    out = Path(results_dir) if results_dir else Path("hpcq-runs") / study.name
    out.mkdir(parents=True, exist_ok=True)
    if study.mode == "workflow":
        click.echo(
            f"note: {study.name} is a workflow study; its DAG steps run only through the server, so here all "
            f"{len(study.params.tasks())} task(s) run as one vqe_sweep (the same tasks, one HDF5 file)",
            err=True,
        )
    spec = out / f".{study.name}.sweep.json"
    spec.write_text(json.dumps(study.sweep))
    cmd = [mpiexec, "-n", str(ranks), sys.executable, "-m", "hpcq.worker", str(spec), "--out", str(out)]
    cmd += ["--threads", str(threads)] + (["--quiet"] if quiet else [])
    click.echo(f"running {study.name} on {ranks} rank(s) x {threads} thread(s): {' '.join(cmd)}", err=True)
    try:
        proc = subprocess.run(cmd, env=_worker_env(), stdout=subprocess.PIPE, text=True)
    except OSError as exc:
        raise click.ClickException(f"cannot start {mpiexec}: {exc}; {INSTALL_MPI}") from None
    finally:
        spec.unlink(missing_ok=True)
    if proc.returncode != 0:
        raise click.ClickException(f"the worker failed (exit {proc.returncode}); its messages are above")
    result = _summary(proc.stdout)
    s = result["summary"]
    for f in result["files"]:
        click.echo(f"results: {Path(f).resolve()}")
    click.echo(
        f"{s['n_tasks']} task(s) on {s['mpi_ranks']} rank(s) in {s['wall_time_s']:.1f} s; "
        f"chemical accuracy {s['chemical_accuracy']}/{s['n_tasks']}; "
        f"best {s['best_task']} (abs error {s['best_abs_error']:.3g} Ha)"
    )
    click.echo(f"look at them: hpcq results ls --results {out}")
