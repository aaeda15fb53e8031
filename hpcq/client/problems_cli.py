"""`hpcq problems show STUDY` : inspect a study's problems before submitting it.

Per problem and ansatz: qubits, Pauli terms, active-space electrons, HF and exact reference
energies (Ha; the same checked references the runs use) and the ansatz's parameters and two-qubit
gates after transpiling to the simulator's basis. Needs the simulation extra (hpcq[worker]).
"""

from __future__ import annotations

import json
import math
from typing import Any

import click


def inspect(study) -> list[dict]:
    from hpcq.sim import problems as P
    from hpcq.sim.ansatz import build_ansatz, transpiled_size

    params = study.params
    rows = []
    for i, prob in enumerate(params.problems):
        op = P.hamiltonian(prob)
        refs = P.reference(prob)
        row = {
            "index": i,
            "kind": prob.kind,
            "mapping": prob.mapping if prob.kind != "tfim" else None,
            "qubits": op.num_qubits,
            "pauli_terms": len(op),
            "electrons": list(prob.electrons) if prob.electrons else None,
            "spatial_orbitals": prob.spatial_orbitals,
            "hf_energy": refs.get("hf_energy"),
            "exact_energy": None if math.isnan(exact := P.exact_ground_energy(prob)) else exact,
            "exact_method": refs.get("exact_method", "exact diagonalisation"),
            "pyscf_energy": refs.get("pyscf_energy"),
            "pyscf_method": refs.get("pyscf_method"),
            "energy_kind": refs.get("energy_kind", "units of the Hamiltonian (the coupling J), not Ha"),
            "cross_check": refs.get("cross_check"),
            "ansatze": [],
        }
        if prob.kind == "molecule":
            from hpcq.sim.chem.geometry import BUILTIN, atoms_of, formula

            builtin = isinstance(prob.geometry, str) and prob.geometry.strip().lower() in BUILTIN
            row["molecule"] = prob.geometry if builtin else formula(atoms_of(prob.geometry, prob.unit))
            row["basis"] = prob.basis
        if study.qpu is not None:  # the hybrid workflow's QPU steps: their shots, stated up front
            groups = len(op.group_commuting(qubit_wise=True))
            row["qpu_budget"] = {"groups": groups, **study.qpu.budget(groups)}
        if prob.scan_point is not None:  # a point of a scan (hpcq.sim.scan): what tells the rows apart
            from hpcq.sim.scan import label

            row["scan_point"] = prob.scan_point.model_dump()
            row["scan_label"] = label(row["scan_point"])
        for a in params.ansatze:
            size: dict[str, Any]
            try:
                size = transpiled_size(build_ansatz(a, op.num_qubits, prob))
            except ValueError as exc:
                size = {"error": str(exc)}
            row["ansatze"].append({"kind": a.kind, "reps": a.reps, **size})
        rows.append(row)
    return rows


@click.group(help="Inspect problems before submitting a study.")
def problems():
    pass


def _echo_qpu_budget(study: Any, rows: list[dict[str, Any]]) -> None:
    """The hybrid workflow's QPU steps: their shots per problem, stated before anything runs."""
    q, runs = study.qpu, len(study.params.tasks()) - sum(t.step == "noise" for t in study.params.tasks())
    for r in rows:
        b = r["qpu_budget"]
        click.echo(
            f"problem {r['index']}: each qpu step on {q.target} ({', '.join(q.access)}) costs {b['total']} shots = "
            f"{q.shots} shots x {b['circuits']} circuits (1 bit-order + {1 if q.ghz_qubits else 0} GHZ + "
            f"{b['groups']} measured groups x 1 parameter set) + {b['calibration_shots']} calibration, in "
            f"{b['jobs']} QPU job(s); one step per VQE run and route ({runs} VQE run(s) in the study)"
        )


@problems.command("show")
@click.argument("study_file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def show(study_file: str, as_json: bool):
    """Qubits, Pauli terms, electrons, HF/exact energies and ansatz sizes of every problem in STUDY_FILE."""
    from hpcq.client.study import StudyError, load_study

    try:
        study = load_study(study_file)
        rows = inspect(study)
    except (StudyError, ValueError, RuntimeError) as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps({"study": study.name, "problems": rows}, indent=2, sort_keys=True))
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    spin = {r["kind"] in ("tfim", "heisenberg") for r in rows}  # True: a spin model, False: chemistry
    units = " and ".join(u for u, k in (("Ha (chemistry, totals)", False), ("J (spin models)", True)) if k in spin)
    t = Table(title=f"study {study.name}: problems (energies in {units})")
    for col in ("#", "problem", "qubits", "terms", "electrons (a,b)", "HF", "exact", "ansatz", "params", "2q gates"):
        t.add_column(col, no_wrap=True)  # numbers are never cut or wrapped: the table may be wider
    fmt = lambda v: "" if v is None else f"{v:.8f}"  # noqa: E731
    for r in rows:
        name = r["kind"] + (f" {r.get('molecule', '')} {r.get('basis', '')}" if r["kind"] == "molecule" else "")
        name += f" [{r['mapping']}]" if r["mapping"] else ""
        name += f" {r['scan_label']}" if r.get("scan_label") else ""
        for j, a in enumerate(r["ansatze"]):
            first = j == 0
            t.add_row(
                str(r["index"]) if first else "",
                escape(name) if first else "",  # "[parity]" is text, not rich markup
                str(r["qubits"]) if first else "",
                str(r["pauli_terms"]) if first else "",
                (str(tuple(r["electrons"])) if r["electrons"] else "-") if first else "",
                fmt(r["hf_energy"]) if first else "",
                fmt(r["exact_energy"]) if first else "",
                f"{a['kind']} r{a['reps']}",
                str(a.get("n_params", "-")),
                str(a.get("two_qubit_gates", a.get("error", "-"))),
            )
    console = Console()
    from rich.measure import Measurement

    need = Measurement.get(console, console.options.update_width(10_000), t).maximum
    (Console(width=need) if need > console.width else console).print(t)
    if study.qpu is not None:
        _echo_qpu_budget(study, rows)
    for r in rows:
        if r.get("cross_check"):
            click.echo(
                f"problem {r['index']}: exact = {r['exact_method']}; {r['cross_check']}; energies are "
                f"{r['energy_kind']}"
            )
        elif r.get("pyscf_method"):
            click.echo(
                f"problem {r['index']}: exact = {r['exact_method']}; equals {r['pyscf_method']} "
                f"{r['pyscf_energy']:.10f} within 1e-8 Ha; energies are {r['energy_kind']}"
            )
        elif r["exact_energy"] is None:
            click.echo(f"problem {r['index']}: exact = {r['exact_method']}")
