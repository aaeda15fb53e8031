"""The water workflow end to end: real embedded server, real local Slurm, a real executor; every
step is a Slurm job and hands its file to the next through ColonyOS (integrals -> hamiltonian ->
ansatz -> vqe -> noise -> aggregate). Trimmed from studies/water.yaml to one ansatz, one
optimizer and one noise model so it fits the test budget. Then `hpcq run` of the same study on this
machine (the DAG through the embedded server and a local-backend executor) must write the same
files, step by step."""

import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import yaml
from click.testing import CliRunner

from hpcq.cli import main
from hpcq.testing.studies import trimmed_water


def cli(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_water_workflow_on_slurm(client_stack, tmp_path):
    study = trimmed_water("water-e2e")
    f = tmp_path / "water.yaml"
    f.write_text(yaml.safe_dump(study))
    res = cli("submit", str(f), "--timeout", "600")
    assert res.exit_code == 0, res.output
    assert "6 done / 0 failed" in res.output, res.output
    st = json.loads(cli("status", "water-e2e", "--json").output)
    assert st["counts"]["done"] == 6
    dest = tmp_path / "results"
    res = cli("fetch", "water-e2e", "--dest", str(dest))
    assert res.exit_code == 0 and "fetched 2 result file(s)" in res.output, res.output
    vqe = noise = None
    for path in dest.glob("*.h5"):
        with h5py.File(path) as h:
            for tid, g in h["tasks"].items():
                rec = (tid, g["final_parameters"][()], float(g["metrics"].attrs["energy"]), dict(h["provenance"].attrs))
                # the file says what its energies are: totals in Ha
                assert (g.attrs["energy_units"], g.attrs["energy_convention"]) == (
                    "Ha",
                    "total: electronic + nuclear repulsion + frozen-core",
                )
                if g.attrs["step"] == "vqe":
                    vqe = rec
                else:
                    noise = rec
                    assert g.attrs["parent_task_id"] == vqe[0] if vqe else True
    assert vqe and noise
    assert abs(vqe[2] - -74.97045438545) < 0.05  # COBYLA from HF, 25 iterations
    assert np.array_equal(json.loads(noise[3]["parent_parameters"]), vqe[1])
    assert noise[3]["parent_task_id"] == vqe[0]
    assert np.array_equal(noise[1], vqe[1]) and noise[2] > vqe[2]
    # automatic picked the density matrix for 8 qubits and says why, with the cost model's numbers
    assert noise[3]["method"] == "density_matrix", noise[3]["method_reason"]
    assert "0.1 x 4^8" in noise[3]["method_reason"] and "1024 trajectories x 2^8" in noise[3]["method_reason"]
    _same_dag_files_from_hpcq_run(f, dest, tmp_path / "local")


def _steps(dest: Path) -> dict:
    """The task ids a file holds -> {task id: (step, parent task, energy, final parameters)}: what each
    DAG step wrote (file names carry the Slurm job id or the process id, so they differ by design)."""
    out = {}
    for path in sorted(dest.glob("*.h5")):
        with h5py.File(path) as h:
            out[tuple(sorted(h["tasks"]))] = {
                tid: (
                    g.attrs["step"],
                    g.attrs.get("parent_task_id", ""),
                    float(g["metrics"].attrs["energy"]),
                    g["final_parameters"][()],
                )
                for tid, g in h["tasks"].items()
            }
    return out


def _same_dag_files_from_hpcq_run(study: Path, cluster_dest: Path, out: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COLONIES_", "HPCQ_", "SLURM_"))}
    r = subprocess.run(
        [sys.executable, "-m", "hpcq.cli", "run", str(study), "--results", str(out), "--timeout", "300"],
        env=env, capture_output=True, text=True, timeout=400,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert "6 done / 0 failed" in r.stdout, r.stdout + r.stderr
    cluster, local = _steps(cluster_dest), _steps(out)
    assert sorted(local) == sorted(cluster) and len(cluster) == 2  # the same files (by the tasks they hold)
    for name, tasks in cluster.items():
        assert sorted(local[name]) == sorted(tasks), name
        for tid, (step, parent, energy, x) in tasks.items():
            l_step, l_parent, l_energy, l_x = local[name][tid]
            assert (l_step, l_parent) == (step, parent)
            assert abs(l_energy - energy) <= 1e-10, (name, tid, l_energy, energy)
            np.testing.assert_allclose(l_x, x, rtol=0, atol=1e-10)
