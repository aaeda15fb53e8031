"""``hpcq run STUDY.yaml [--ranks N] [--results DIR]``: develop locally, then scale.

A sweep study runs on this machine with the same MPI worker the Slurm job runs (``python -m
hpcq.worker`` under ``mpiexec``), with no server and no Slurm. A workflow study runs as its real DAG:
the embedded server and an executor with submitit's local backend (hpcq.client.localstack), so the
same steps hand the same files to each other as on a cluster. Either way the HDF5 files are the ones
a cluster run writes and ``hpcq results ls --results DIR`` reads them. The study is parsed by
hpcq.client.study, exactly as ``hpcq submit`` parses it, so a study that runs here is one that submits.
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
@click.option(
    "--timeout", type=float, default=6 * 3600, show_default=True, help="workflow studies: give up after this many s"
)
def run(study_file: str, ranks: int, threads: int, results_dir: str | None, quiet: bool, timeout: float) -> None:
    """Run STUDY_FILE on this machine: a sweep study with the MPI worker under mpiexec (no server, no
    Slurm), a workflow study as its DAG through the embedded server and a local executor."""
    from hpcq.client.study import StudyError, load_study

    try:
        study = load_study(study_file)
    except StudyError as exc:
        raise click.ClickException(str(exc)) from None
    out = Path(results_dir) if results_dir else Path("hpcq-runs") / study.name
    if study.mode == "workflow":
        if (ranks, threads) != (1, 1):
            raise click.ClickException(
                f"--ranks/--threads apply to sweep studies; {study.name} is a workflow study whose steps take "
                "their ranks and threads from the study's resources (ranks_per_node, cpus_per_rank)"
            )
        check_fits(study.params, study.resources.ranks_per_node * study.resources.nodes, machine_memory_bytes())
        run_workflow(study, out, timeout)
        return
    mpiexec = find_mpiexec()
    if mpiexec is None:
        where = (
            f" ({MPIEXEC_ENV}={os.environ[MPIEXEC_ENV]} is not an executable)" if os.environ.get(MPIEXEC_ENV) else ""
        )
        raise click.ClickException(f"mpiexec not found{where}; `hpcq run` needs it to start the worker: {INSTALL_MPI}")
    check_fits(study.params, ranks, machine_memory_bytes())
    out.mkdir(parents=True, exist_ok=True)
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


WORKFLOW_WORKDIR = ".hpcq-run"  # under the results folder: server DB, keys, executor state, job folders


QPU_PYTHON_ENV = "HPCQ_QPU_PYTHON"  # the Python of the QPU clients' venv (scripts/setup.sh: .venv-qpu)


def qpu_python(configured: str | None = None) -> str | None:
    """The Python the twin's jobs run here: this one if it has the QPU clients (iqm-client), else
    $HPCQ_QPU_PYTHON, else the profile's, else a .venv-qpu beside this venv (scripts/setup.sh);
    none of them: the error names the extra and the fix."""
    import importlib.util

    if importlib.util.find_spec("iqm") is not None:
        return None
    sibling = Path(sys.prefix).parent / ".venv-qpu" / "bin" / "python"
    for candidate in (os.environ.get(QPU_PYTHON_ENV), configured, str(sibling)):
        if candidate and Path(candidate).is_file():
            return str(Path(candidate).absolute())
    raise click.ClickException(
        f"qpu: the twin runs on iqm-client's fake backends, which this Python ({sys.executable}) lacks: install "
        f"the extra qpu-iqm-qrmi in its own venv (scripts/setup.sh builds .venv-qpu) and set {QPU_PYTHON_ENV} "
        "to its python (docs/qpu.md)"
    )


def local_qpu_profile(study, work: Path) -> str:
    """The executor's profile for ``hpcq run``: ``local``, or (a study with ``qpu:``) ``local`` plus
    the QPU entry of the study's profile, so the qpu steps run on its twin here. This machine has no
    QPU: ``access: qrmi`` is refused with the fix."""
    qpu = study.qpu
    if qpu is None:
        return "local"
    if "qrmi" in qpu.access:
        raise click.ClickException(
            f"qpu.access: qrmi needs {qpu.target}'s site; hpcq run has no QPU: use access: twin here "
            "(and submit the study to the site for qrmi)"
        )
    if not qpu.profile:
        raise click.ClickException(
            f"qpu.profile: hpcq run needs the site profile whose qpus lists {qpu.target} (its twin); add "
            "profile: NAME (hpcq profiles list)"
        )
    import yaml

    from hpcq.executor.profiles import load_profile
    from hpcq.executor.profiles.schema import profile_files

    data = yaml.safe_load(profile_files()["local"].read_text())
    entry = load_profile(qpu.profile).qpu(qpu.target).model_dump(mode="json", exclude={"verify", "notes"})
    entry["python"] = qpu_python(entry.get("python"))
    data["qpus"] = {qpu.target: {k: v for k, v in entry.items() if v is not None}}
    data["description"] = f"{data.get('description', '')} + {qpu.target}'s twin from profile {qpu.profile}"
    path = work / "local-qpu.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return str(path)


def run_workflow(study, out: Path, timeout: float) -> None:
    """The study's DAG through the embedded server and an executor with submitit's local backend
    (the cluster's steps and files); the HDF5 files are fetched into ``out`` and indexed. Services
    and their state live in ``out/.hpcq-run`` (rebuilt on each run) and are stopped on exit."""
    import contextlib
    import time

    from rich.console import Console

    from hpcq.client.api import Client
    from hpcq.client.localstack import start_services
    from hpcq.config import Settings
    from hpcq.results.catalog import Catalog, default_db

    console = Console(stderr=True)
    work = (out / WORKFLOW_WORKDIR).resolve()
    if work.exists():
        shutil.rmtree(work)
    (work / "config").mkdir(parents=True)
    os.environ["HPCQ_CONFIG_DIR"] = str(work / "config")
    study.colony = ""  # the local colony, whatever the study names for the cluster
    if study.placement is not None:  # one machine is one site: every step runs here
        click.echo(f"note: {study.name}'s placement is for a colony's sites; here every step runs locally", err=True)
        study.placement = None
    names = list(study.executor.names)
    profile = local_qpu_profile(study, work)
    t0 = time.time()
    with contextlib.ExitStack() as stack:
        start_services(
            stack,
            work,
            "local",
            console.print,
            executor_name=names[0] if names else "local-executor",
            executor_type=study.executor.type,
            profile=profile,
        )
        client = Client(Settings.load())
        console.print(f"[bold]4/6[/bold] submitting workflow {study.name!r} ({len(study.params.tasks())} VQE runs)")
        sub = client.submit(study)
        snap = client.watch(sub, timeout=timeout, console=console)
        if not snap.finished:
            raise click.ClickException(
                f"{study.name} did not finish within {timeout:.0f} s ({snap.line()}); the executor's log: "
                f"{work / 'executor.log'}"
            )
        console.print("[bold]5/6[/bold] fetching the HDF5 results and indexing them")
        files = client.fetch(sub, out)
    stats = Catalog(default_db(out)).index(out)
    for f in files:
        click.echo(f"results: {Path(f).resolve()}")
    click.echo(f"[6/6] {study.name}: {snap.line()} in {time.time() - t0:.0f} s; catalog: {stats.summary()}")
    if snap.counts["failed"]:
        log = work / "executor.log"
        raise click.ClickException(f"{snap.counts['failed']} step(s) failed; the executor's log: {log}")
    click.echo(f"look at them: hpcq results ls --results {out}")
