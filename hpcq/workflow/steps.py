"""The workflow's light steps, run inside Slurm jobs like every catalogued function.

Their outputs are small JSON summaries; ColonyOS hands them to the children as ``in``
(``ctx.inputs``), which is how the aggregate step finds every run's HDF5 file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hpcq.atomicfile import write_atomic
from hpcq.functions import FunctionResult, JobContext
from hpcq.sim.spec import AnsatzSpec, ProblemSpec


def parent_summaries(inputs: list) -> list[dict]:
    """The parents' summaries (each parent's out is [result_ref, summary_json])."""
    out = []
    for item in inputs:
        if isinstance(item, str) and item.startswith("{"):
            try:
                doc = json.loads(item)
            except json.JSONDecodeError:
                continue
            if isinstance(doc, dict):
                out.append(doc)
    return out


def parent_file(inputs: list, key: str, step: str) -> str:
    """The file a parent step named under ``key``; raises naming the missing handover."""
    for doc in parent_summaries(inputs):
        path = doc.get(key)
        if path and Path(path).is_file():
            return str(path)
    raise RuntimeError(
        f"{step}: no parent output names an existing {key} ({len(inputs)} inputs); the "
        "parent step failed to hand its file over (check it with hpcq status)"
    )


def _problem_key(problem: ProblemSpec) -> str:
    import hashlib

    return hashlib.sha256(problem.model_dump_json().encode()).hexdigest()[:10]


def integrals(kwargs: dict, ctx: JobContext) -> FunctionResult | None:
    """PySCF RHF + active space -> an FCIDUMP file (h1, h2, ecore of the active space) for the
    hamiltonian step, plus RHF/CASCI energies (the independent reference) in the summary."""
    if ctx.rank != 0:
        return None
    from pyscf import ao2mo
    from pyscf.tools import fcidump

    from hpcq.sim.problems import checked_fci
    from hpcq.sim.problems import integrals as build

    problem = ProblemSpec.model_validate(kwargs["problem"])
    ints = build(problem)
    path = Path(ctx.workdir) / f"integrals-{problem.kind}-{_problem_key(problem)}.fcidump"
    ms2 = ints.nelec[0] - ints.nelec[1]
    fcidump.from_integrals(
        str(path),
        ints.h1,
        ao2mo.restore(8, ints.h2, ints.norb),
        ints.norb,
        sum(ints.nelec),
        nuc=ints.ecore,
        ms=ms2,
        tol=1e-15,
    )
    summary = {
        "step": "integrals",
        "problem": problem.model_dump(mode="json"),
        "integrals_file": str(path),
        "spatial_orbitals": ints.norb,
        "n_alpha": ints.nelec[0],
        "n_beta": ints.nelec[1],
        "ecore": ints.ecore,
        "hf_energy": ints.e_hf,
        "casci_energy": checked_fci(ints, "PySCF CASCI") if problem.reference == "exact" else None,
        "casci_is_fci": bool(ints.info.get("casci_is_fci", False)) if ints.info else False,
        "energy_kind": "total (nuclear repulsion and frozen core included), Ha",
    }
    return FunctionResult(summary=summary, files=[str(path)])


def write_operator(path: Path, op, problem: ProblemSpec, refs: dict) -> None:
    """A Pauli-list file (the format ``kind: pauli`` reads) plus the references."""
    doc = {
        "labels": op.paulis.to_labels(),
        "coeffs": [float(c.real) for c in op.coeffs],
        "num_particles": list(problem.electrons) if problem.electrons else None,
        "mapping": problem.mapping,
        "n_qubits": op.num_qubits,
        "problem": problem.model_dump(mode="json"),
        "references": refs,
    }
    write_atomic(path, json.dumps(doc, sort_keys=True))


def read_operator(path: str):
    from qiskit.quantum_info import SparsePauliOp

    doc = json.loads(Path(path).read_text())
    return SparsePauliOp(doc["labels"], doc["coeffs"]), doc


def hamiltonian(kwargs: dict, ctx: JobContext) -> FunctionResult | None:
    """The qubit operator and its exact references, written to a Pauli-list JSON file for the VQE steps.

    Molecules and FCIDUMPs are built from the parent integrals step's FCIDUMP (ctx.inputs), not
    recomputed; the qubit-sector energy is checked against the FCI of those integrals and the
    parent's CASCI (a mismatch beyond 1e-8 Ha fails the step)."""
    if ctx.rank != 0:
        return None
    from hpcq.sim import problems as P

    problem = ProblemSpec.model_validate(kwargs["problem"])
    if problem.kind in ("molecule", "fcidump"):
        from hpcq.sim.chem.files import load_fcidump
        from hpcq.sim.chem.mappings import qubit_hamiltonian

        src = parent_file(ctx.inputs, "integrals_file", "hamiltonian")
        ints = load_fcidump(src, Path(src).read_bytes())
        op = qubit_hamiltonian(ints.h1, ints.h2, ints.ecore, problem.mapping, ints.nelec)
        parent = next(d for d in parent_summaries(ctx.inputs) if d.get("integrals_file") == src)
        if problem.reference == "skip":
            refs = P.reference(problem)
        else:
            refs = P.integral_references(
                op,
                ints,
                problem.mapping,
                "PySCF FCI of the integrals file",
                parent.get("hf_energy") if problem.kind == "molecule" else None,
            )
        if parent.get("casci_energy") is not None:
            refs = P.check_references(refs, parent["casci_energy"], "PySCF CASCI (integrals step)")
        refs["integrals_file"] = src
    else:
        op = P.hamiltonian(problem)
        refs = P.reference(problem) or {"exact_energy": P.exact_ground_energy(problem)}
    path = Path(ctx.workdir) / f"hamiltonian-{problem.kind}-{_problem_key(problem)}.json"
    write_operator(path, op, problem, refs)
    return FunctionResult(
        summary={
            "step": "hamiltonian",
            "problem": problem.model_dump(mode="json"),
            "n_qubits": op.num_qubits,
            "n_terms": len(op),
            "exact_energy": refs["exact_energy"],
            "hf_energy": refs.get("hf_energy"),
            "hamiltonian_file": str(path),
        },
        files=[str(path)],
    )


def ansatz(kwargs: dict, ctx: JobContext) -> FunctionResult | None:
    """Build the ansatz once to report its size (parameters, depth, two-qubit gates)."""
    if ctx.rank != 0:
        return None
    from hpcq.sim.ansatz import build_ansatz, transpiled_size

    spec = AnsatzSpec.model_validate(kwargs["ansatz"])
    problem = ProblemSpec.model_validate(kwargs["problem"]) if kwargs.get("problem") else None
    circ = build_ansatz(spec, int(kwargs["n_qubits"]), problem)
    size = transpiled_size(circ)
    ham = [d["hamiltonian_file"] for d in parent_summaries(ctx.inputs) if d.get("hamiltonian_file")]
    return FunctionResult(
        summary={
            "step": "ansatz",
            "ansatz": spec.model_dump(mode="json"),
            "n_qubits": circ.num_qubits,
            "hamiltonian_file": ham[0] if ham else None,
            **size,
            "transpiled_to": "cx, rz, sx, x (optimization_level 1)",
        }
    )


def result_files(inputs: list) -> list[str]:
    """HDF5 paths among the parents' outputs (each parent's out is [result_ref, summary_json])."""
    files = []
    for item in inputs:
        if isinstance(item, str) and item.endswith(".h5") and Path(item).exists():
            files.append(item)
    return sorted(set(files))


def aggregate(kwargs: dict, ctx: JobContext) -> FunctionResult | None:
    """Gather every run of the study, rank the noise runs, write ranking.csv next to the results."""
    if ctx.rank != 0:
        return None
    import pandas as pd

    from hpcq.results import open as open_results
    from hpcq.results.catalog import join_parents
    from hpcq.results.rank import make_spec, rank

    files = result_files(ctx.inputs)
    if not files:
        raise RuntimeError(
            f"aggregate: none of the {len(ctx.inputs)} parent outputs names an existing "
            "HDF5 result file; check the parents' outputs (hpcq status)"
        )
    runs = pd.concat([open_results(f) for f in files], ignore_index=True)
    table = join_parents(runs)
    spec = make_spec(kwargs.get("rank_by") or ["abs_error:min", "jsd:min"], kwargs.get("weights"))
    ranked = rank(table, spec)
    out = Path(ctx.workdir) / f"ranking-{kwargs['study']}.csv"
    ranked.to_csv(out, index=False)
    cols = [
        c
        for c in (
            "position",
            "task_id",
            "noise_model",
            "noise_params",
            "optimizer",
            "energy",
            "abs_error",
            "jsd",
            "delta_entropy",
        )
        if c in ranked.columns
    ]
    top = json.loads(ranked[cols].head(int(kwargs.get("top", 10))).to_json(orient="records"))
    return FunctionResult(
        summary={
            "step": "aggregate",
            "study": kwargs["study"],
            "files": len(files),
            "runs": int(len(runs)),
            "noise_runs": int(len(table)),
            "ranking": spec.definition(),
            "top": top,
            "ranking_csv": str(out),
        }
    )


def _provide_parent_operator(params, ctx: JobContext, step: str) -> str:
    """Load the parent's Hamiltonian file and hand it to the simulator (every rank)."""
    from hpcq.sim import problems as P

    path = parent_file(ctx.inputs, "hamiltonian_file", step)
    op, doc = read_operator(path)
    for problem in params.problems:
        if ProblemSpec.model_validate(doc["problem"]) == problem:
            P.provide(problem, op, doc["references"])
            return path
    raise RuntimeError(f"{step}: the parent's Hamiltonian ({path}) is for another problem")


def method_reason(task) -> str:
    """Which simulation method a task runs and why, with the cost model's numbers (the rule itself
    is hpcq.sim.spec.auto_method; recorded in the noise step's HDF5 provenance)."""
    from hpcq.sim.memory import fmt_bytes
    from hpcq.sim.spec import AUTO_DENSITY_MATRIX_MAX_BYTES, AUTO_DM_COST_RATIO, auto_method

    n, m = task.simulated_qubits, task.resolved_method
    if task.method != "automatic":
        return f"{m}: requested explicitly"
    if not task.noisy:
        return f"statevector: {task.noise.kind} noise acts at readout only, exact expectation values"
    a = auto_method(n, task.shots, task.precision)
    costs = (
        f"cost per gate: density matrix {AUTO_DM_COST_RATIO} x 4^{n} = {a['dm_cost']:.3g} vs "
        f"{task.shots} trajectories x 2^{n} = {a['trajectories_cost']:.3g} (ratio {AUTO_DM_COST_RATIO} measured "
        "by bench/bench_water.py)"
    )
    mem = f"density matrix state {fmt_bytes(a['dm_bytes'])}, limit {fmt_bytes(AUTO_DENSITY_MATRIX_MAX_BYTES)}"
    if m == "density_matrix":
        return (
            f"density_matrix: {n} qubits, {costs}: the exact noisy evaluation is "
            f"{a['trajectories_cost'] / a['dm_cost']:.3g}x cheaper and has no statistical error; {mem}"
        )
    why = "does not fit" if not a["dm_fits"] else f"is {a['dm_cost'] / a['trajectories_cost']:.3g}x dearer"
    return (
        f"statevector trajectories: {n} qubits, {costs}; {mem}: the density matrix {why}; the energy is a "
        f"{task.shots}-trajectory mean with its standard error"
    )


def vqe(kwargs: dict, ctx: JobContext) -> FunctionResult | None:
    """A noiseless VQE run on the parent's Hamiltonian (read from its file, not rebuilt)."""
    from hpcq.sim.spec import parse_sweep
    from hpcq.worker.entry import run_sweep

    params = parse_sweep(kwargs)
    path = _provide_parent_operator(params, ctx, "vqe")
    res = run_sweep(params, ctx)
    if res is not None:
        res.summary.update(step="vqe", hamiltonian_file=path)
    return res


@dataclass
class ParentRun:
    """The parent VQE's optimum, as its HDF5 file holds it."""

    parameters: Any  # np.ndarray of the optimal parameters
    energy: float
    path: str
    content_sha256: str


def _parent_run(files: list[str], parent_task_id: str) -> ParentRun:
    """The parent task's optimal parameters and energy, from the handed-over file that holds it."""
    if not files:
        raise RuntimeError("noise: the parent VQE handed over no HDF5 result file; check it with hpcq status")
    import h5py
    import numpy as np

    from hpcq.results.h5format import FINAL_PARAMETERS, METRICS, TASKS

    found = None
    for f in files:
        with h5py.File(f, "r") as h:
            if parent_task_id in h.get(TASKS, {}):
                t = h[TASKS][parent_task_id]
                x = np.asarray(t[FINAL_PARAMETERS][()], dtype=float)
                found = ParentRun(x, float(t[METRICS].attrs["energy"]), f, str(h.attrs.get("content_sha256", "")))
    if found is None:
        raise RuntimeError(f"noise: parent task {parent_task_id} is in none of {files}")
    return found


def noise(kwargs: dict, ctx: JobContext) -> FunctionResult | None:
    """The parent VQE's optimal parameters under noise: their energy (and, with reoptimize, a
    re-optimisation started from them). The HDF5 file records the parent's parameters, file and task."""
    import time

    from hpcq.results.h5format import now_iso
    from hpcq.sim.spec import parse_sweep
    from hpcq.sim.vqe import run_task

    if ctx.rank != 0:
        return None
    kwargs = dict(kwargs)
    reoptimize = bool(kwargs.pop("reoptimize", False))
    params = parse_sweep(kwargs)
    (task,) = params.tasks()
    t0, started = time.perf_counter(), now_iso()
    ham = _provide_parent_operator(params, ctx, "noise")
    parent = _parent_run(result_files(ctx.inputs), task.parent_task_id)
    x_parent = parent.parameters
    threads = max(1, int(ctx.threads or 1))
    results = [run_task(task, threads=threads, x0=x_parent, optimize=False)]
    summary_extra = {"energy_at_parent_parameters": results[0].metrics["energy"]}
    if reoptimize:
        r = run_task(task, threads=threads, x0=x_parent, optimize=True)
        r.spec = task.model_copy(update={"task_id": task.task_id + "-reopt"})
        results.append(r)
        summary_extra["reoptimized_energy"] = r.metrics["energy"]
    from hpcq.worker.entry import _finish

    extra = {
        "parent_parameters": [float(v) for v in x_parent],
        "parent_task_id": task.parent_task_id,
        "parent_file": parent.path,
        "parent_content_sha256": parent.content_sha256,
        "parent_energy": parent.energy,
        "hamiltonian_file": ham,
        "method": task.resolved_method,
        "method_reason": method_reason(task),
        "noise_step": "energy at the parent's parameters"
        + (" + re-optimisation from them (task id suffix -reopt)" if reoptimize else ""),
    }
    res = _finish(params, ctx, results, threads, 1, started, t0, extra_provenance=extra)
    res.summary.update(
        step="noise",
        parent_task_id=task.parent_task_id,
        hamiltonian_file=ham,
        method=task.resolved_method,
        method_reason=method_reason(task),
        **summary_extra,
    )
    return res
