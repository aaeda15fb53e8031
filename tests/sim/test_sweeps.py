"""Fewer passes over the state per energy (issue 24, item 2): the ``grouped`` read-out (qubit-wise-
commuting groups, every Z string of a group from one saved marginal) equals Aer's per-term
expectation value to 1e-10, makes fewer reads, and a task reports its sweeps per evaluation."""

import numpy as np
import pytest

from hpcq.sim.readout import _windows, build_energy_circuit, sweeps_from_metadata


def _energies(qc, H, x, strategies, **sim):
    from qiskit_aer import AerSimulator

    out = {}
    binds = [{p: [v] for p, v in zip(qc.parameters, x, strict=True)}]
    for s in strategies:
        ec = build_energy_circuit(qc, H, s)
        res = AerSimulator(method="statevector", fusion_verbose=True, **sim).run(ec.circuit, parameter_binds=binds)
        res = res.result()
        out[s] = (ec.energy(res.data(0)), ec, sweeps_from_metadata(res.results[0].metadata, ec))
    return out


@pytest.mark.parametrize("n, boundary", [(8, "open"), (15, "periodic")])
def test_grouped_equals_expval_on_the_tfim(n, boundary):
    from qiskit.circuit.library import real_amplitudes

    from hpcq.sim.problems import hamiltonian
    from hpcq.sim.spec import ProblemSpec

    H = hamiltonian(ProblemSpec(kind="tfim", n_qubits=n, boundary=boundary, h=0.7))
    qc = real_amplitudes(n, reps=2)
    x = np.random.default_rng(n).uniform(-np.pi, np.pi, qc.num_parameters)
    e = _energies(qc, H, x, ["expval", "grouped"])
    assert abs(e["grouped"][0] - e["expval"][0]) < 1e-10, e
    assert e["expval"][1].passes == len(H) and e["grouped"][1].passes == 2  # Z group + X group
    assert e["grouped"][2]["read_passes"] == 2 and e["grouped"][2]["sweeps"] < e["expval"][2]["sweeps"]


def test_grouped_equals_expval_on_a_chemistry_hamiltonian_with_small_windows():
    """X, Y and Z terms on many supports (H2O-like from a random Pauli list), marginals cut into
    windows of 3 and 5 qubits (a term wider than the window gets its own): the same energy."""
    from qiskit.circuit.library import efficient_su2
    from qiskit.quantum_info import SparsePauliOp

    import hpcq.sim.readout as R

    rng = np.random.default_rng(5)
    n = 7
    labels = {"".join(rng.choice(list("IXYZ"), n)) for _ in range(40)} | {"I" * n, "Z" * n}
    H = SparsePauliOp(sorted(labels), rng.normal(size=len(labels)))
    qc = efficient_su2(n, reps=2)
    x = rng.uniform(-np.pi, np.pi, qc.num_parameters)
    from qiskit_aer import AerSimulator

    ref = _energies(qc, H, x, ["expval"])["expval"][0]
    binds = [{p: [v] for p, v in zip(qc.parameters, x, strict=True)}]
    passes = []
    for window in (3, 5, n):
        ec = R._grouped(qc.copy(), H, window)
        e = ec.energy(AerSimulator().run(ec.circuit, parameter_binds=binds).result().data(0))
        assert abs(e - ref) < 1e-10, (window, e, ref)
        passes.append(ec.passes)
    assert passes[0] >= passes[1] >= passes[2] and passes[2] <= len(H.group_commuting(qubit_wise=True))
    assert _windows([((0, 1), 1.0), ((1, 2), 1.0), ((2, 3), 1.0), ((5,), 1.0)], 3) == [
        [((0, 1), 1.0), ((1, 2), 1.0)],
        [((2, 3), 1.0), ((5,), 1.0)],
    ]


def test_task_reports_sweeps_per_evaluation():
    from hpcq.sim.spec import parse_sweep
    from hpcq.sim.vqe import energy_strategy, run_task

    sweep = parse_sweep(
        {
            "problems": [{"kind": "tfim", "n_qubits": 6}],
            "ansatze": [{"kind": "real_amplitudes", "reps": 1}],
            "optimizers": [{"kind": "cobyla", "maxiter": 5}],
            "method": "statevector",
        }
    )
    (task,) = sweep.tasks()
    assert energy_strategy(task) == "grouped"
    m = run_task(task).metrics
    assert m["energy_read_passes"] == 2 and m["energy_sweeps"] == m["energy_gate_sweeps"] + 2, m
    assert m["energy_gate_sweeps"] > 0
