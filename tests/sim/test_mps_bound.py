"""A matrix product state sized from its circuit (issue 24, item 4): the bond dimension the entangling
gates allow across each cut (hpcq.sim.memory.mps_bond_bound, TaskSpec.entangling_gates) sizes the MPS,
so a shallow 100-qubit study is admitted with defaults and a deep one is refused with the bound; the
bound is never below what Aer's MPS really reaches (its mps_log_data bond dimensions)."""

import re

import numpy as np
import pytest

from hpcq.executor.resources import plan_process
from hpcq.sim import memory
from hpcq.sim.spec import parse_sweep

PROFILE = """description: "1 node x 8 GiB"
source: "test"
partition: debug
mpi: pmi2
cores_per_node: 4
mem_per_node_gb: 8
max_walltime_s: 3600
max_nodes: 1
aer: pypi
"""


def _tfim_mps(n=100, boundary="open", **ansatz):
    return parse_sweep(
        {
            "problems": [{"kind": "tfim", "n_qubits": n, "boundary": boundary}],
            "ansatze": [ansatz],
            "method": "matrix_product_state",
        }
    )


def test_bound_from_gates():
    chain = [(i, i + 1, 2) for i in range(9)]
    assert memory.mps_bond_bound(10, chain) == 2
    assert memory.mps_bond_bound(10, chain * 3) == 8
    assert memory.mps_bond_bound(10, chain * 9) == 32  # capped by 2^min(left, right) = 2^5 in the middle
    assert memory.mps_bond_bound(4, [(0, 1, 2)] * 5) == 2  # the cut after qubit 0 has one qubit on its left
    assert memory.mps_bond_bound(6, [(2, 3, 4), (2, 3, 2)]) == 8
    assert memory.mps_bond_bound(6, []) == 1
    # a gate between distant qubits: Aer reorders, any set of qubits may be cut: all gates count
    assert memory.mps_bond_bound(10, [(0, 9, 2), (0, 1, 2)]) == 4
    assert memory.mps_bond_bound(10, [(0, 9, 4)] * 4) == 32
    assert memory.gate_schmidt_rank("cx") == memory.gate_schmidt_rank("rzz") == 2
    assert memory.gate_schmidt_rank("swap") == memory.gate_schmidt_rank("unitary") == 4
    with pytest.raises(memory.SizingError, match="outside an 4-qubit register"):
        memory.mps_bond_bound(4, [(0, 4, 2)])


def test_shallow_100_qubit_tfim_admitted_with_defaults(tmp_path):
    sweep = _tfim_mps(kind="real_amplitudes", reps=1, entanglement="linear")
    (task,) = sweep.tasks()
    assert task.mps.bond_dimension is None and task.mps_circuit_bond() == 2
    fp = task.footprint()
    assert fp.mps_bond == 2 and "the circuit" in fp.mps_bond_from
    assert fp.state_bytes == 100 * 2 * 2 * 2 * 16 + 100 * 2 * 8
    assert "bond dimension 2, from the circuit's entangling gates" in fp.describe()
    prof = tmp_path / "small.yaml"
    prof.write_text(PROFILE)
    plan_process(str(prof), {"nodes": 1, "mem": "2Gi"}, sweep, mpi=False, maxexectime=-1)
    # the user's cap still wins when smaller; the circuit's bound when the cap is larger
    capped = parse_sweep(
        {
            "problems": [{"kind": "tfim", "n_qubits": 100}],
            "ansatze": [{"kind": "hva", "reps": 3}],
            "method": "matrix_product_state",
            "mps": {"bond_dimension": 4},
        }
    ).tasks()[0]
    assert capped.mps_circuit_bond() == 8 and capped.footprint().mps_bond == 4
    assert capped.footprint().mps_bond_from == "mps.bond_dimension"


def test_deep_100_qubit_tfim_refused_with_the_bound():
    with pytest.raises(ValueError) as ei:
        _tfim_mps(kind="real_amplitudes", reps=20, entanglement="linear")
    msg = str(ei.value)
    assert "100-qubit matrix_product_state (double): state 3.13 PiB (bond dimension 1048576 = 2^20, " in msg, msg
    assert "from the circuit's entangling gates across its cuts)" in msg and "more than any node has" in msg, msg
    assert msg.endswith("set mps.bond_dimension to cap the MPS (truncating it), or use a shallower ansatz"), msg
    # a circuit whose gates the spec does not fix (gates between distant qubits: any cut) budgets 2^(n/2)
    with pytest.raises(ValueError, match=r"bond dimension 1125899906842624 = 2\^50, from 2\^\(n/2\)"):
        _tfim_mps(kind="real_amplitudes", reps=1, entanglement="full")


_LOG_SEEN = [0]  # Aer keeps one MPS log per process and never clears it (hpcq.sim.vqe._mps_truncation)


def _sync_log() -> None:
    """Point _LOG_SEEN at the end of Aer's process-global MPS log (one tiny logged run)."""
    from qiskit import QuantumCircuit
    from qiskit_aer import AerSimulator

    qc = QuantumCircuit(2)
    qc.save_statevector()
    res = AerSimulator(method="matrix_product_state", mps_log_data=True).run(qc).result()
    _LOG_SEEN[0] = len(str(res.results[0].metadata.get("MPS_log_data", ""))) or 1


def _aer_max_bond(qc, save=True) -> int:
    """The largest bond Aer's (untruncated) MPS reached while running ``qc``, from mps_log_data."""
    from qiskit_aer import AerSimulator

    if not _LOG_SEEN[0]:  # the log may hold other tests' MPS runs (the full suite): skip past them
        _sync_log()
    qc = qc.copy()
    if save:
        qc.save_expectation_value(_z(qc.num_qubits), list(range(qc.num_qubits)))
    res = AerSimulator(method="matrix_product_state", mps_log_data=True, seed_simulator=1).run(qc).result()
    assert res.success, res.status
    full = str(res.results[0].metadata["MPS_log_data"])
    seen = _LOG_SEEN[0] if len(full) >= _LOG_SEEN[0] else 0
    log, _LOG_SEEN[0] = full[seen:], len(full)
    return max((int(b) for bd in re.findall(r"BD=\[([0-9 ]*)\]", log) for b in bd.split()), default=1)


def _z(n):
    from qiskit.quantum_info import SparsePauliOp

    return SparsePauliOp(["Z" * n])


def _random_circuit(rng, n, depth, local):
    from qiskit import QuantumCircuit
    from qiskit.quantum_info import random_unitary

    qc = QuantumCircuit(n)
    gates = []
    for q in range(n):
        qc.u(*rng.uniform(0, 2 * np.pi, 3), q)
    for _ in range(depth):
        if local:
            i = int(rng.integers(n - 1))
            a, b = (i, i + 1) if rng.random() < 0.5 else (i + 1, i)
        else:
            a, b = (int(x) for x in rng.choice(n, 2, replace=False))
        kind = str(rng.choice(["cx", "cz", "rzz", "swap", "unitary"]))
        if kind == "unitary":
            qc.unitary(random_unitary(4, seed=int(rng.integers(1 << 30))), [a, b])
        elif kind == "rzz":
            qc.rzz(float(rng.uniform(0, 2 * np.pi)), a, b)
        else:
            getattr(qc, kind)(a, b)
        gates.append((a, b, memory.gate_schmidt_rank(kind)))
        for q in (a, b):
            qc.u(*rng.uniform(0, 2 * np.pi, 3), q)
    return qc, gates


def test_bound_holds_for_aer_on_random_circuits():
    """Property: on random circuits (nearest-neighbour and not; cx, cz, rzz, swap, general two-qubit
    unitaries between random one-qubit gates) the bound is >= the bond Aer's MPS reaches, and is
    reached by some of them (the bound is not vacuous)."""
    rng = np.random.default_rng(24)
    tight = 0
    for trial in range(60):
        n = int(rng.integers(3, 9))
        qc, gates = _random_circuit(rng, n, int(rng.integers(1, 3 * n)), local=trial % 3 != 0)
        bound, reached = memory.mps_bond_bound(n, gates), _aer_max_bond(qc)
        assert reached <= bound, (trial, n, gates, reached, bound)
        tight += reached == bound
    assert tight >= 20, tight


@pytest.mark.parametrize(
    "ansatz, boundary",
    [
        ({"kind": "real_amplitudes", "reps": 1, "entanglement": "linear"}, "open"),
        ({"kind": "real_amplitudes", "reps": 2, "entanglement": "reverse_linear"}, "open"),
        ({"kind": "efficient_su2", "reps": 2, "entanglement": "pairwise"}, "open"),
        ({"kind": "efficient_su2", "reps": 1, "entanglement": "circular"}, "open"),
        ({"kind": "real_amplitudes", "reps": 1, "entanglement": "full"}, "open"),
        ({"kind": "two_local", "reps": 2, "entanglement_blocks": "cz"}, "open"),
        ({"kind": "two_local", "reps": 1, "entanglement_blocks": "cz", "entanglement": "full"}, "open"),
        ({"kind": "hva", "reps": 2}, "open"),
        ({"kind": "hva", "reps": 1}, "periodic"),
        ({"kind": "real_amplitudes", "reps": 2, "entanglement": "linear"}, "periodic"),
    ],
)
def test_spec_bound_holds_for_the_transpiled_ansatz(ansatz, boundary):
    """The bound the spec derives without Qiskit is >= what Aer reaches on the circuit hpcq runs
    (the ansatz transpiled to the simulator's basis: hva's rzz becomes cx rz cx, cz becomes h cx h;
    the TFIM's terms saved on their own qubits, the MPS read-out, hpcq.sim.readout 'local')."""
    from qiskit import transpile

    from hpcq.sim.ansatz import build_ansatz
    from hpcq.sim.noise import BASIS_GATES
    from hpcq.sim.problems import hamiltonian
    from hpcq.sim.readout import build_energy_circuit

    (task,) = _tfim_mps(n=7, boundary=boundary, **ansatz).tasks()
    qc = build_ansatz(task.ansatz, 7, task.problem)
    tqc = transpile(qc, basis_gates=BASIS_GATES, optimization_level=1, seed_transpiler=task.seed)
    tqc = tqc.assign_parameters(np.random.default_rng(7).uniform(-np.pi, np.pi, tqc.num_parameters))
    energy = build_energy_circuit(tqc, hamiltonian(task.problem), "local").circuit
    bound, reached = task.mps_circuit_bond(), _aer_max_bond(energy, save=False)
    assert bound is not None and reached <= bound, (bound, reached)
