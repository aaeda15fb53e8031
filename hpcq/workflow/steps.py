"""The workflow's light steps, run inside Slurm jobs like every catalogued function.

Their outputs are small JSON summaries; ColonyOS hands them to the children as ``in``
(``ctx.inputs``), which is how the aggregate step finds every run's HDF5 file.
"""

from __future__ import annotations

import json
from pathlib import Path

from hpcq.functions import FunctionResult, JobContext
from hpcq.sim.spec import AnsatzSpec, ProblemSpec


def hamiltonian(kwargs: dict, ctx: JobContext) -> FunctionResult | None:
    """Build the problem Hamiltonian and its exact ground energy (the reference of every run)."""
    if ctx.rank != 0:
        return None
    from hpcq.sim.problems import exact_ground_energy, hamiltonian as build

    problem = ProblemSpec.model_validate(kwargs["problem"])
    op = build(problem)
    return FunctionResult(summary={
        "step": "hamiltonian", "problem": problem.model_dump(mode="json"), "n_qubits": problem.qubits,
        "n_terms": len(op), "exact_energy": exact_ground_energy(problem),
    })


def ansatz(kwargs: dict, ctx: JobContext) -> FunctionResult | None:
    """Build the ansatz once to report its size (parameters, depth, two-qubit gates)."""
    if ctx.rank != 0:
        return None
    from hpcq.sim.ansatz import build_ansatz

    spec = AnsatzSpec.model_validate(kwargs["ansatz"])
    circ = build_ansatz(spec, int(kwargs["n_qubits"]))
    ops = circ.count_ops()
    return FunctionResult(summary={
        "step": "ansatz", "ansatz": spec.model_dump(mode="json"), "n_qubits": circ.num_qubits,
        "n_params": circ.num_parameters, "depth": circ.depth(),
        "two_qubit_gates": int(sum(v for k, v in ops.items() if k in ("cx", "cz", "ecr"))),
    })


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
        raise RuntimeError(f"aggregate: none of the {len(ctx.inputs)} parent outputs names an existing "
                           "HDF5 result file; check the parents' outputs (hpcq status)")
    runs = pd.concat([open_results(f) for f in files], ignore_index=True)
    table = join_parents(runs)
    spec = make_spec(kwargs.get("rank_by") or ["abs_error:min", "jsd:min"], kwargs.get("weights"))
    ranked = rank(table, spec)
    out = Path(ctx.workdir) / f"ranking-{kwargs['study']}.csv"
    ranked.to_csv(out, index=False)
    cols = [c for c in ("position", "task_id", "noise_model", "noise_params", "optimizer", "energy",
                        "abs_error", "jsd", "delta_entropy") if c in ranked.columns]
    top = json.loads(ranked[cols].head(int(kwargs.get("top", 10))).to_json(orient="records"))
    return FunctionResult(summary={"step": "aggregate", "study": kwargs["study"], "files": len(files),
                                   "runs": int(len(runs)), "noise_runs": int(len(table)),
                                   "ranking": spec.definition(), "top": top, "ranking_csv": str(out)})
