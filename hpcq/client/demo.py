"""`hpcq demo`: the whole product on one machine, started and stopped by one command.

embedded ColonyOS server -> local Slurm cluster (root) or submitit's local executor -> hpcq
executor -> the demo noise study as a workflow -> live progress -> HDF5 results fetched and
indexed -> ranked metrics table -> how to open the dashboard. Everything it starts is stopped on
exit, on error and on Ctrl-C.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from hpcq.client.localstack import start_services

console = Console(width=max(120, Console().width))
DEMO_STUDY = Path(__file__).parent / "studies" / "demo.yaml"


def _sigterm(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def _slurm_available() -> tuple[bool, str]:
    from hpcq.executor.lab import prerequisites

    return prerequisites()


# the demo plays every role on this machine: these come with `pip install 'hpcq[all]'`
DEMO_MODULES = {
    "pycolonies": "client",
    "coincurve": "server",
    "submitit": "executor",
    "qiskit_aer": "worker",
    "mpi4py": "worker",
    "h5py": "worker",
    "pandas": "client",
    "networkx": "client",
}


def missing_extras() -> str:
    """'' when every module the demo needs imports, else a sentence naming them and the fix."""
    import importlib.util

    missing = sorted(m for m in DEMO_MODULES if importlib.util.find_spec(m) is None)
    if not missing:
        return ""
    extras = sorted({DEMO_MODULES[m] for m in missing})
    return (
        f"hpcq demo runs every role on this machine, and {', '.join(missing)} "
        f"({'/'.join(extras)} extra) {'is' if len(missing) == 1 else 'are'} not installed: "
        "pip install 'hpcq[all]'"
    )


def ranked_table(results: Path, top: int = 15) -> Table:
    """The noise runs ranked by 0.7·|energy error| + 0.3·JSD, joined with their parent VQE runs."""
    from hpcq.results.catalog import Catalog, default_db, join_parents
    from hpcq.results.graph import noise_label
    from hpcq.results.rank import make_spec, rank

    cat = Catalog(default_db(results))
    runs = cat.runs()
    ranked = rank(join_parents(runs), make_spec(["abs_error:min", "jsd:min"], [0.7, 0.3]))
    t = Table(
        title=f"noise runs ranked by 0.7·|E-E_exact| + 0.3·JSD ({len(ranked)} runs)", caption=reference_line(runs)
    )
    heads = ("#", "optimizer", "noise", "total energy (Ha)", "|ΔE| (mHa)", "JSD", "ΔH (bits)", "noiseless |ΔE| (mHa)")
    for name in heads:
        t.add_column(name, justify="left" if name in ("optimizer", "noise") else "right")
    for _, r in ranked.head(top).iterrows():
        t.add_row(
            str(r["position"]),
            str(r["optimizer"]),
            noise_label(r["noise_model"], r["noise_params"]),
            f"{r['energy']:.6f}",
            f"{1e3 * r['abs_error']:.3f}",
            f"{r['jsd']:.4f}",
            f"{r['delta_entropy']:+.4f}",
            f"{1e3 * r.get('vqe_abs_error', float('nan')):.3f}",
        )
    return t


def reference_line(runs) -> str:
    """The exact and HF total energies of each problem in the results, with the unit: what every
    energy in the table is measured against (totals: electronic + nuclear repulsion, in Ha)."""
    import json

    from hpcq.results.cli import CHEMISTRY_KINDS

    lines = []
    for (kind, params), g in runs.groupby(["problem", "problem_params"], sort=True):
        p = json.loads(params) if params else {}
        unit = "Ha" if kind in CHEMISTRY_KINDS else "J"
        where = f" at {p['bond_length']} Å" if "bond_length" in p else ""
        name = kind.upper() if kind == "h2" else kind
        line = f"{name}{where}: exact total energy {g['exact_energy'].iloc[0]:.6f} {unit}"
        if "hf_energy" in g and g["hf_energy"].notna().any():
            line += f", HF {g['hf_energy'].dropna().iloc[0]:.6f} {unit}"
        lines.append(line)
    return "; ".join(lines)


def _check_backend(backend: str) -> None:
    """Refuse before anything starts: a role's modules are missing, or Slurm was asked for and
    this machine cannot run a local cluster."""
    need = missing_extras()
    if need:
        raise click.ClickException(need)
    if backend == "slurm":
        ok, reason = _slurm_available()
        if not ok:
            raise click.ClickException(f"--backend slurm: {reason}; or run with --backend local")


def _resolve_backend(backend: str) -> str:
    """``auto``: a local Slurm cluster when this machine can run one, else submitit's local executor."""
    if backend != "auto":
        return backend
    ok, reason = _slurm_available()
    if not ok:
        console.print(
            f"[yellow]no local Slurm cluster: {reason}. Running the jobs with submitit's local "
            "executor instead.[/yellow]"
        )
    return "slurm" if ok else "local"


def _fresh_workdir(workdir: str) -> Path:
    """An empty ``workdir`` whose config/ is the client's and executor's config dir."""
    path = Path(workdir).resolve()
    if path.exists():
        shutil.rmtree(path)
    (path / "config").mkdir(parents=True)
    os.environ["HPCQ_CONFIG_DIR"] = str(path / "config")
    return path


def _run_study(workdir: Path, study, timeout: float, t0: float) -> None:
    """Steps 4-6: submit and watch the study, fetch and index its files, print the ranking."""
    from hpcq.client.api import Client
    from hpcq.config import Settings
    from hpcq.results.catalog import Catalog, default_db

    console.print(
        f"[bold]4/6[/bold] submitting study {study.name!r} ({study.mode}, {len(study.params.tasks())} VQE runs)"
    )
    client = Client(Settings.load())
    sub = client.submit(study)
    snap = client.watch(sub, timeout=timeout, console=console)
    console.print(f"      {snap.line()} in {time.time() - t0:.0f} s")
    if not snap.finished:
        raise click.ClickException(f"the study did not finish within {timeout:.0f} s; see {workdir / 'executor.log'}")
    console.print("[bold]5/6[/bold] fetching the HDF5 results and indexing them")
    results = workdir / "results"
    files = client.fetch(sub, results)
    stats = Catalog(default_db(results)).index(results)
    console.print(f"      {len(files)} file(s) in {results}; catalog: {stats.summary()}")
    console.print("[bold]6/6[/bold] ranked metrics")
    console.print(ranked_table(results))
    console.print(
        f"\nOpen the dashboard:  [bold].venv/bin/hpcq ui --results {results}[/bold]  then browse http://127.0.0.1:8050"
    )
    if snap.counts["failed"]:
        raise click.ClickException(f"{snap.counts['failed']} step(s) failed (see above)")


BACKENDS = ["auto", "slurm", "local"]
WORKDIR_HELP = "Everything the demo writes (server DB, keys, Slurm lab, jobs, results)."
STUDY_HELP = "Run this study file instead of the built-in demo study."
BACKEND_HELP = "auto: a local Slurm cluster when root with Slurm installed, else submitit's local executor."


@click.command()
@click.option("--workdir", type=click.Path(file_okay=False), default=".hpcq-demo", show_default=True, help=WORKDIR_HELP)
@click.option("--study", "study_file", type=click.Path(dir_okay=False), help=STUDY_HELP)
@click.option("--backend", type=click.Choice(BACKENDS), default="auto", show_default=True, help=BACKEND_HELP)
@click.option("--timeout", type=float, default=1800, show_default=True, help="Give up after this many seconds.")
def demo(workdir, study_file, backend, timeout):
    """Run a small VQE noise study end to end on this machine and print the ranked metrics table."""
    _check_backend(backend)
    from hpcq.client.study import load_study

    signal.signal(signal.SIGTERM, _sigterm)
    path = _fresh_workdir(workdir)
    study = load_study(study_file or DEMO_STUDY)
    backend = _resolve_backend(backend)
    t0 = time.time()
    with contextlib.ExitStack() as stack:
        try:
            start_services(stack, path, backend, console.print, colony="demo", executor_name="demo-executor")
            _run_study(path, study, timeout, t0)
        except KeyboardInterrupt:
            console.print("[yellow]interrupted: stopping everything the demo started[/yellow]")
            raise SystemExit(130) from None
    console.print(f"demo finished in {time.time() - t0:.0f} s; everything it started is stopped")
