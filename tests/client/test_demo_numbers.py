"""`hpcq demo` prints H2's total energy (-1.137 Ha at 0.735 Å) with the unit in the header (issue 25).

The CLI runs in process on the demo study itself; only the services (server, executor, Slurm) are
replaced by running the study's tasks here and writing the result file the job would write.
"""

import types

from click.testing import CliRunner

import hpcq.client.api as api
import hpcq.client.demo as demo
import hpcq.config as config
from hpcq.sim.vqe import run_task
from hpcq.worker.taskfile import write_results


class _Snap:
    finished = True
    counts = {"failed": 0}

    def line(self) -> str:
        return "all steps finished"


class _Client:
    """submit/watch/fetch: the demo study's tasks run in this process (noise steps from their
    parent's optimum, as the workflow runs them)."""

    def __init__(self, settings):
        pass

    def submit(self, study):
        return study

    def watch(self, sub, timeout=None, console=None):
        return _Snap()

    def fetch(self, study, dest):
        tasks = study.params.tasks()
        vqe = {t.task_id: run_task(t) for t in tasks if t.step == "vqe"}
        noise = [
            run_task(t, x0=vqe[t.parent_task_id].final_parameters, optimize=False) for t in tasks if t.step == "noise"
        ]
        return [write_results(dest / "demo.h5", [*vqe.values(), *noise], {}, study=study.name)]


def test_demo_prints_h2_total_energy_with_the_unit(tmp_path, monkeypatch):
    monkeypatch.setattr(demo, "missing_extras", lambda: "")
    monkeypatch.setattr(demo, "start_services", lambda *a, **k: None)
    monkeypatch.setattr(api, "Client", _Client)
    monkeypatch.setattr(config.Settings, "load", classmethod(lambda cls, *a, **k: types.SimpleNamespace()))
    monkeypatch.setenv("COLUMNS", "200")
    r = CliRunner().invoke(demo.demo, ["--workdir", str(tmp_path / "demo"), "--backend", "local"])
    assert r.exit_code == 0, r.output
    assert "total energy (Ha)" in r.output
    assert "H2 at 0.735 Å: exact total energy -1.137306 Ha, HF -1.116999 Ha" in " ".join(r.output.split())
    rows = [[c.strip() for c in line.split("│")[1:-1]] for line in r.output.splitlines() if line.startswith("│")]
    assert len(rows) == 10 and rows[0][0] == "1", r.output
    best = float(rows[0][3])  # a total near -1.137 Ha (electronic energies are near -1.85), to µHa
    assert -1.137306 < best < -1.10 and len(rows[0][3].split(".")[1]) == 6
