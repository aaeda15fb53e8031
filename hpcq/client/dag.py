"""Turn a Study into ColonyOS function specs: one process (single), one per task (sweep), or the
seed study's DAG (workflow)::

    [integrals(problem)] -> hamiltonian(problem) -> ansatz(problem, ansatz)
        -> vqe(optimizer, seed; noiseless) -> noise(noise model; from the parent's parameters)
                                           -> qpu(twin / QPU; from the parent's parameters; study qpu:)
        -> aggregate (ranks every run)

Data flows along the edges: integrals writes an FCIDUMP (molecule/fcidump problems only), the
hamiltonian step builds the qubit operator from it and writes a Pauli-list file, the ansatz step
passes that file on, every VQE step simulates that operator, and every noise step reads its parent
VQE's HDF5 file for the optimal parameters. Parents' outputs reach children as their input
(ColonyOS fills ``in`` at assign time); nothing is recomputed. The steps themselves run in Slurm
jobs (hpcq.workflow.steps); this module is the laptop side and builds the specs only
(hpcq.client.specs), so it can be tested without a server.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from hpcq.client.specs import spec_for
from hpcq.client.study import Study
from hpcq.functions import VQE_SWEEP
from hpcq.sim.scan import slug
from hpcq.sim.spec import SweepParams, TaskSpec

INTEGRALS_KINDS = ("molecule", "fcidump")  # problems whose Hamiltonian starts from integrals
LIGHT = {"nodes": 1, "processespernode": 1, "cpu": "1000m", "mem": "1024Mi"}


def _short(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:6]


def study_spec(
    study: Study, nodename: str, funcname: str, params: dict, conditions: dict, dependencies: list[str] | None = None
) -> dict[str, Any]:
    """One process of ``study``: its colony, executor, priority, retries and queue allowance."""
    cond = {
        "colonyname": study.colony,
        "executortype": study.executor.type,
        "executornames": list(study.executor.names) or None,
        "dependencies": list(dependencies or []),
        **conditions,
    }
    return spec_for(
        funcname,
        params,
        cond,
        study.name,
        nodename=nodename,
        queue_allowance=study.queue_allowance,
        priority=study.priority,
        maxwaittime=study.maxwaittime,
        maxretries=study.maxretries,
    )


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
    return [study_spec(study, f"sweep-{study.name}", VQE_SWEEP, study.sweep, study.resources.conditions())]


def sweep_specs(study: Study) -> list[dict[str, Any]]:
    """One process per task; the executor packs them into job arrays."""
    return [
        study_spec(study, f"task-{t.task_id}", VQE_SWEEP, _one_task_sweep(study, t), study.resources.conditions())
        for t in study.params.tasks()
    ]


def _keys(t: TaskSpec) -> tuple[str, str]:
    """Readable, unique keys of a task's problem and ansatz (kind plus a short hash)."""
    problem = t.problem.model_dump(mode="json")
    point = slug(problem.get("scan_point"))  # a scan's point, readable in node names (bond_length_1.6)
    pkey = f"{t.problem.kind}-{point + '-' if point else ''}{_short(problem)}"
    akey = f"{t.ansatz.kind}-r{t.ansatz.reps}-{_short(t.ansatz.model_dump(mode='json'))}"
    return pkey, akey


def _preparation_specs(
    study: Study, tasks: list[TaskSpec], light: dict[str, Any]
) -> tuple[list[dict[str, Any]], dict[tuple[str, str], str]]:
    """[integrals ->] hamiltonian -> ansatz, once per problem and ansatz; and the ansatz node of
    each (problem, ansatz) key."""
    specs: list[dict[str, Any]] = []
    ham_nodes: dict[str, str] = {}
    ans_nodes: dict[tuple[str, str], str] = {}
    for t in tasks:
        pkey, akey = _keys(t)
        problem = t.problem.model_dump(mode="json")
        if pkey not in ham_nodes:
            parents = []
            if t.problem.kind in INTEGRALS_KINDS:
                parents = [f"integrals-{pkey}"]
                specs.append(study_spec(study, parents[0], "study_integrals", {"problem": problem}, light))
            ham_nodes[pkey] = f"hamiltonian-{pkey}"
            specs.append(study_spec(study, ham_nodes[pkey], "study_hamiltonian", {"problem": problem}, light, parents))
        if (pkey, akey) not in ans_nodes:
            ans_nodes[(pkey, akey)] = f"ansatz-{pkey}-{akey}"
            params = {"ansatz": t.ansatz.model_dump(mode="json"), "n_qubits": t.problem.qubits, "problem": problem}
            specs.append(study_spec(study, ans_nodes[(pkey, akey)], "study_ansatz", params, light, [ham_nodes[pkey]]))
    return specs, ans_nodes


def _run_specs(
    study: Study, tasks: list[TaskSpec], ans_nodes: dict[tuple[str, str], str]
) -> tuple[list[dict[str, Any]], list[str]]:
    """The noiseless VQE runs (children of their ansatz), then the noise runs (children of their
    noiseless VQE run); and every run's node name (the aggregate's parents)."""
    specs: list[dict[str, Any]] = []
    vqe_nodes: dict[str, str] = {}  # noiseless task id -> nodename
    conditions = study.resources.conditions()
    for t in tasks:  # noiseless VQE runs first, so noise runs can depend on them
        if t.step == "vqe":
            vqe_nodes[t.task_id] = f"vqe-{t.task_id}"
            parent = ans_nodes[_keys(t)]
            specs.append(
                study_spec(study, vqe_nodes[t.task_id], "study_vqe", _one_task_sweep(study, t), conditions, [parent])
            )
    if any(t.step == "noise" and t.parent_task_id not in vqe_nodes for t in tasks):
        raise ValueError(
            "sweep.noise: workflow mode needs {kind: none} among the noise models (the "
            "noiseless VQE run is the parent of every noise run); add it or use mode: sweep"
        )
    nodes = list(vqe_nodes.values())
    nodes += _qpu_specs(study, vqe_nodes, specs)
    for t in tasks:
        if t.step == "noise":
            nodes.append(f"noise-{t.task_id}")
            params = dict(_one_task_sweep(study, t), reoptimize=study.reoptimize_noise)
            parent = vqe_nodes[t.parent_task_id]
            specs.append(study_spec(study, nodes[-1], "study_noise", params, conditions, [parent]))
    return specs, nodes


QPU_CONDITIONS = {"nodes": 1, "processespernode": 1, "cpu": "1000m", "mem": "2048Mi"}  # one task drives the QPU


def _qpu_specs(study: Study, vqe_nodes: dict[str, str], specs: list[dict[str, Any]]) -> list[str]:
    """The hybrid workflow (``qpu:``): per noiseless VQE run and route a ``qpu-<task>-<route>`` step,
    its child, evaluating its optimum on the QPU or the twin (hpcq.qpu.hybrid); their node names."""
    if study.qpu is None:
        return []
    nodes = []
    conditions = dict(QPU_CONDITIONS, walltime=study.resources.walltime)
    for task_id, parent in vqe_nodes.items():
        for access in study.qpu.access:
            nodes.append(f"qpu-{task_id}-{access}")
            params = study.qpu.step_params(study.name, access, task_id)
            specs.append(study_spec(study, nodes[-1], "study_qpu", params, conditions, [parent]))
    return nodes


def workflow_specs(study: Study) -> list[dict[str, Any]]:
    """The seed study's DAG with dataflow; node names are unique and readable (step-key)."""
    params: SweepParams = study.params
    tasks = params.tasks()
    light = dict(LIGHT, walltime=min(300, study.resources.walltime))
    prep, ans_nodes = _preparation_specs(study, tasks, light)
    runs, leaves = _run_specs(study, tasks, ans_nodes)
    aggregate = study_spec(study, f"aggregate-{study.name}", "study_aggregate", {"study": study.name}, light, leaves)
    return [*prep, *runs, aggregate]


def build_specs(study: Study) -> list[dict[str, Any]]:
    """The specs of ``study`` in its mode (workflow, sweep or single)."""
    return {"single": single_spec, "sweep": sweep_specs, "workflow": workflow_specs}[study.mode](study)
