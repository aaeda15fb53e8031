"""Turn a Study into ColonyOS function specs: one process (single), one per task (sweep), or the
seed study's DAG (workflow)::

    [integrals(problem)] -> hamiltonian(problem) -> ansatz(problem, ansatz)
        -> vqe(optimizer, seed; noiseless) -> noise(noise model; from the parent's parameters)
        -> aggregate (ranks every run)

Data flows along the edges: integrals writes an FCIDUMP (molecule/fcidump problems only), the
hamiltonian step builds the qubit operator from it and writes a Pauli-list file, the ansatz step
passes that file on, every VQE step simulates that operator, and every noise step reads its parent
VQE's HDF5 file for the optimal parameters. Parents' outputs reach children as their input
(ColonyOS fills ``in`` at assign time); nothing is recomputed. Specs are plain dicts shaped like
pycolonies' FuncSpec so they can be tested without a server.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from hpcq.client.study import Study
from hpcq.functions import encode_kwargs
from hpcq.sim.spec import SweepParams, TaskSpec

INTEGRALS_KINDS = ("molecule", "fcidump")  # problems whose Hamiltonian starts from integrals
LIGHT = {"nodes": 1, "processespernode": 1, "cpu": "1000m", "mem": "1024Mi"}


def _short(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:6]


def _spec(
    study: Study, nodename: str, funcname: str, params: dict, conditions: dict, dependencies: list[str] | None = None
) -> dict[str, Any]:
    cond = {
        "colonyname": study.colony,
        "executortype": study.executor.type,
        "executornames": list(study.executor.names) or None,
        "dependencies": list(dependencies or []),
        **conditions,
    }
    return {
        "nodename": nodename,
        "funcname": funcname,
        "args": [],
        "kwargs": encode_kwargs(params),
        "priority": study.priority,
        "maxwaittime": study.maxwaittime,
        "maxexectime": conditions.get("walltime", study.resources.walltime) + study.queue_allowance,
        "maxretries": study.maxretries,
        "label": study.name,
        "conditions": cond,
    }


def _one_task_sweep(study: Study, t: TaskSpec) -> dict[str, Any]:
    return {
        "study": study.name,
        "problems": [t.problem.model_dump(mode="json")],
        "ansatze": [t.ansatz.model_dump(mode="json")],
        "optimizers": [t.optimizer.model_dump(mode="json")],
        "noise": [t.noise.model_dump(mode="json")],
        "seeds": [t.seed],
        "method": t.method,
        "shots": t.shots,
        "device": t.device,
    }


def single_spec(study: Study) -> list[dict[str, Any]]:
    """The whole sweep in one Slurm job (MPI ranks share it)."""
    return [_spec(study, f"sweep-{study.name}", "vqe_sweep", study.sweep, study.resources.conditions())]


def sweep_specs(study: Study) -> list[dict[str, Any]]:
    """One process per task; the executor packs them into job arrays."""
    return [
        _spec(study, f"task-{t.task_id}", "vqe_sweep", _one_task_sweep(study, t), study.resources.conditions())
        for t in study.params.tasks()
    ]


def workflow_specs(study: Study) -> list[dict[str, Any]]:
    """The seed study's DAG with dataflow; node names are unique and readable (step-key)."""
    params: SweepParams = study.params
    tasks = params.tasks()
    light = dict(LIGHT, walltime=min(300, study.resources.walltime))
    specs: list[dict[str, Any]] = []
    ham_nodes: dict[str, str] = {}
    ans_nodes: dict[tuple[str, str], str] = {}
    vqe_nodes: dict[str, str] = {}  # noiseless task id -> nodename

    def keys(t: TaskSpec) -> tuple[str, str]:
        pkey = f"{t.problem.kind}-{_short(t.problem.model_dump(mode='json'))}"
        akey = f"{t.ansatz.kind}-r{t.ansatz.reps}-{_short(t.ansatz.model_dump(mode='json'))}"
        return pkey, akey

    for t in tasks:
        pkey, akey = keys(t)
        problem = t.problem.model_dump(mode="json")
        if pkey not in ham_nodes:
            parents = []
            if t.problem.kind in INTEGRALS_KINDS:
                parents = [f"integrals-{pkey}"]
                specs.append(_spec(study, parents[0], "study_integrals", {"problem": problem}, light))
            ham_nodes[pkey] = f"hamiltonian-{pkey}"
            specs.append(_spec(study, ham_nodes[pkey], "study_hamiltonian", {"problem": problem}, light, parents))
        if (pkey, akey) not in ans_nodes:
            ans_nodes[(pkey, akey)] = f"ansatz-{pkey}-{akey}"
            specs.append(
                _spec(
                    study,
                    ans_nodes[(pkey, akey)],
                    "study_ansatz",
                    {"ansatz": t.ansatz.model_dump(mode="json"), "n_qubits": t.problem.qubits, "problem": problem},
                    light,
                    [ham_nodes[pkey]],
                )
            )
    for t in tasks:  # noiseless VQE runs first, so noise runs can depend on them
        if t.step != "vqe":
            continue
        pkey, akey = keys(t)
        vqe_nodes[t.task_id] = f"vqe-{t.task_id}"
        specs.append(
            _spec(
                study,
                vqe_nodes[t.task_id],
                "study_vqe",
                _one_task_sweep(study, t),
                study.resources.conditions(),
                [ans_nodes[(pkey, akey)]],
            )
        )
    missing_parent = [t.task_id for t in tasks if t.step == "noise" and t.parent_task_id not in vqe_nodes]
    if missing_parent:
        raise ValueError(
            "sweep.noise: workflow mode needs {kind: none} among the noise models (the "
            "noiseless VQE run is the parent of every noise run); add it or use mode: sweep"
        )
    leaves = list(vqe_nodes.values())
    for t in tasks:
        if t.step == "noise":
            node = f"noise-{t.task_id}"
            leaves.append(node)
            specs.append(
                _spec(
                    study,
                    node,
                    "study_noise",
                    dict(_one_task_sweep(study, t), reoptimize=study.reoptimize_noise),
                    study.resources.conditions(),
                    [vqe_nodes[t.parent_task_id]],
                )
            )
    specs.append(_spec(study, f"aggregate-{study.name}", "study_aggregate", {"study": study.name}, light, leaves))
    return specs


def build_specs(study: Study) -> list[dict[str, Any]]:
    return {"single": single_spec, "sweep": sweep_specs, "workflow": workflow_specs}[study.mode](study)
