"""The sweep spec: Qiskit-free, stable task ids, sizing, errors that name the field and fix."""

import json
import subprocess
import sys

import pytest

from hpcq.sim import memory
from hpcq.sim.spec import SweepParams, parse_sweep

H2 = {"kind": "h2", "bond_length": 0.735}


def test_spec_imports_no_qiskit():
    code = (
        "import sys, hpcq.sim.spec, hpcq.functions; hpcq.functions.validate_kwargs('vqe_sweep', "
        "{'problems': [{'kind': 'tfim', 'n_qubits': 4}]}); "
        "print(sorted(m for m in sys.modules if m.startswith(('qiskit', 'mpi4py', 'h5py'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_tasks_expand_product_with_stable_ids_and_parents():
    data = {
        "problems": [H2, {"kind": "tfim", "n_qubits": 4}],
        "noise": [{"kind": "none"}, {"kind": "depolarizing", "p": 0.01}],
        "seeds": [1, 2, 3],
    }
    tasks = parse_sweep(data).tasks()
    assert len(tasks) == 2 * 2 * 3
    assert len({t.task_id for t in tasks}) == len(tasks)
    # ids depend on content only: the same task in a reordered, larger sweep keeps its id
    again = parse_sweep({**data, "seeds": [3, 2, 1, 7]}).tasks()
    assert {t.task_id for t in tasks} <= {t.task_id for t in again}
    ids = {t.task_id: t for t in tasks}
    for t in tasks:
        if t.step == "noise":
            parent = ids[t.parent_task_id]
            assert parent.noise.kind == "none" and parent.seed == t.seed and parent.problem == t.problem
        else:
            assert t.parent_task_id == ""


def test_memory_per_rank():
    sv = parse_sweep({"problems": [{"kind": "tfim", "n_qubits": 16}], "method": "statevector"})
    # the exact reference (sparse Lanczos over 2^16) runs in the same process: the rank needs the larger
    ref = sv.problems[0].reference_bytes
    assert ref > 0
    assert sv.memory_per_rank_bytes() == memory.rank_bytes(16, "statevector", reference_bytes=ref)
    assert (
        memory.rank_bytes(16, "statevector") == int(16 * 2**16 * 1.05 + 0.999) + 32 * 2**16 + memory.BASE_PROCESS_BYTES
    )  # state x Aer work factor + kept distributions + base process
    dm = parse_sweep(
        {
            "problems": [{"kind": "tfim", "n_qubits": 10}, H2],
            "noise": [{"kind": "depolarizing", "p": 0.001}],
            "method": "density_matrix",
        }
    )
    assert dm.memory_per_rank_bytes() == memory.rank_bytes(10, "density_matrix")
    auto = parse_sweep(
        {
            "problems": [{"kind": "tfim", "n_qubits": 12}, {"kind": "tfim", "n_qubits": 14}],
            "noise": [{"kind": "none"}, {"kind": "depolarizing", "p": 0.001}],
        }
    )
    # spec.auto_method with the default 1024 shots: the density matrix is cheaper at 12 qubits, not at 14
    methods = {(t.problem.qubits, t.noise.kind): t.resolved_method for t in auto.tasks()}
    assert methods == {
        (12, "none"): "statevector",
        (12, "depolarizing"): "density_matrix",
        (14, "none"): "statevector",
        (14, "depolarizing"): "statevector",
    }
    fake = parse_sweep(
        {"problems": [H2], "noise": [{"kind": "fake_backend", "backend": "FakeManilaV2"}], "method": "density_matrix"}
    )
    assert fake.memory_per_rank_bytes() == memory.rank_bytes(5, "density_matrix")
    single = parse_sweep(
        {"problems": [{"kind": "tfim", "n_qubits": 28}], "method": "statevector", "precision": "single"}
    )
    assert single.footprints()[0].state_bytes == 8 * 2**28
    # one distributed state over 2 ranks: each holds half of it plus one receive buffer of an eighth of that
    assert single.memory_per_rank_bytes(ranks=2) == 8 * 2**27 + 8 * 2**24 + memory.BASE_PROCESS_BYTES


@pytest.mark.parametrize(
    "data, expected",
    [
        (
            {"problems": [H2], "noise": [{"kind": "none"}, {"kind": "none"}, {"kind": "depolarizing", "p": 1.5}]},
            "noise[2].p: 1.5 is not a probability; use 0 <= p <= 1",
        ),
        ({"problems": [{"kind": "tfim"}]}, "problems[0]: n_qubits is required for kind 'tfim'; use 2-10000"),
        ({"problems": [{"kind": "tfim", "n_qubits": 10001}]}, "n_qubits 10001 is out of range; use 2-10000"),
        ({"problems": [{"kind": "h2"}]}, "bond_length is required for kind 'h2'"),
        ({"problems": [H2], "noise": [{"kind": "thermal", "t1": 1e-5, "t2": 5e-5}]}, "use t2 <= 2*t1"),
        (
            {"problems": [H2], "noise": [{"kind": "fake_backend", "backend": "FakeNowhere"}]},
            "backend 'FakeNowhere' is not supported; use one of",
        ),
        ({"problems": [H2], "seeds": [1, 1]}, "seeds: duplicate seeds"),
        ({"problems": [H2], "optimizers": [{"kind": "adam"}]}, "optimizers[0].kind"),
        ({"problems": [H2], "method": "mps"}, "method"),
        (
            {"problems": [{"kind": "tfim", "n_qubits": 24}], "method": "density_matrix"},
            "24-qubit density_matrix (double): state 4 PiB, 4.2 PiB per rank, more than any node has (8 TiB); "
            "would fit: at most 19 qubits with density_matrix (double) per rank; statevector up to 38 qubits",
        ),
        (
            {
                "problems": [{"kind": "tfim", "n_qubits": 100}],
                "method": "matrix_product_state",
                "ansatze": [{"kind": "efficient_su2", "reps": 20}],
            },
            "set mps.bond_dimension to cap the MPS",
        ),
        ({"problems": [H2], "mps": {"bond_dimension": 8}}, "mps: bond_dimension/truncation_threshold apply to"),
        (
            {"problems": [H2], "method": "density_matrix", "parallel": "statevector"},
            "method 'density_matrix' cannot be distributed",
        ),
        ({"problems": [H2], "study": "a b"}, "study: 'a b' has characters"),
        ({"problems": [H2], "shotz": 3}, "shotz: unknown field (did you mean shots?); remove it or check its spelling"),
    ],
)
def test_errors_name_field_and_fix(data, expected):
    with pytest.raises(ValueError) as exc:
        parse_sweep(data)
    assert expected in str(exc.value)


def test_round_trips_as_json():
    s = parse_sweep({"problems": [H2], "noise": [{"kind": "readout", "p": 0.02}]})
    again = SweepParams.model_validate(json.loads(s.model_dump_json()))
    assert [t.task_id for t in again.tasks()] == [t.task_id for t in s.tasks()]
