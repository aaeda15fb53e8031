"""The sweep spec: Qiskit-free, stable task ids, sizing, errors that name the field and fix."""

import json
import subprocess
import sys

import pytest

from hpcq.sim.spec import BASE_OVERHEAD_BYTES, SweepParams, parse_sweep

H2 = {"kind": "h2", "bond_length": 0.735}


def test_spec_imports_no_qiskit():
    code = ("import sys, hpcq.sim.spec, hpcq.functions; hpcq.functions.validate_kwargs('vqe_sweep', "
            "{'problems': [{'kind': 'tfim', 'n_qubits': 4}]}); "
            "print(sorted(m for m in sys.modules if m.startswith(('qiskit', 'mpi4py', 'h5py'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_tasks_expand_product_with_stable_ids_and_parents():
    data = {"problems": [H2, {"kind": "tfim", "n_qubits": 4}],
            "noise": [{"kind": "none"}, {"kind": "depolarizing", "p": 0.01}],
            "seeds": [1, 2, 3]}
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
    assert sv.memory_per_rank_bytes() == 2 * 16 * 2**16 + BASE_OVERHEAD_BYTES
    dm = parse_sweep({"problems": [{"kind": "tfim", "n_qubits": 10}, H2],
                      "noise": [{"kind": "depolarizing", "p": 0.001}], "method": "density_matrix"})
    assert dm.memory_per_rank_bytes() == 2 * 16 * 4**10 + BASE_OVERHEAD_BYTES
    auto = parse_sweep({"problems": [{"kind": "tfim", "n_qubits": 12}],
                        "noise": [{"kind": "none"}, {"kind": "depolarizing", "p": 0.001}]})
    assert [t.resolved_method for t in auto.tasks()] == ["statevector", "statevector"]
    fake = parse_sweep({"problems": [H2], "noise": [{"kind": "fake_backend", "backend": "FakeManilaV2"}],
                        "method": "density_matrix"})
    assert fake.memory_per_rank_bytes() == 2 * 16 * 4**5 + BASE_OVERHEAD_BYTES


@pytest.mark.parametrize("data, expected", [
    ({"problems": [H2], "noise": [{"kind": "none"}, {"kind": "none"},
                                  {"kind": "depolarizing", "p": 1.5}]},
     "noise[2].p: 1.5 is not a probability; use 0 <= p <= 1"),
    ({"problems": [{"kind": "tfim"}]}, "problems[0]: n_qubits is required for kind 'tfim'; use 2-16"),
    ({"problems": [{"kind": "tfim", "n_qubits": 17}]}, "n_qubits 17 is out of range; use 2-16"),
    ({"problems": [{"kind": "h2"}]}, "bond_length is required for kind 'h2'"),
    ({"problems": [H2], "noise": [{"kind": "thermal", "t1": 1e-5, "t2": 5e-5}]}, "use t2 <= 2*t1"),
    ({"problems": [H2], "noise": [{"kind": "fake_backend", "backend": "FakeNowhere"}]},
     "backend 'FakeNowhere' is not supported; use one of"),
    ({"problems": [H2], "seeds": [1, 1]}, "seeds: duplicate seeds"),
    ({"problems": [H2], "optimizers": [{"kind": "adam"}]}, "optimizers[0].kind"),
    ({"problems": [H2], "method": "mps"}, "method"),
    ({"problems": [{"kind": "tfim", "n_qubits": 14}], "method": "density_matrix"},
     "use method 'statevector' or <= 12 qubits"),
    ({"problems": [H2], "study": "a b"}, "study: 'a b' has characters"),
    ({"problems": [H2], "shotz": 3}, "shotz: Extra inputs are not permitted"),
])
def test_errors_name_field_and_fix(data, expected):
    with pytest.raises(ValueError) as exc:
        parse_sweep(data)
    assert expected in str(exc.value)


def test_round_trips_as_json():
    s = parse_sweep({"problems": [H2], "noise": [{"kind": "readout", "p": 0.02}]})
    again = SweepParams.model_validate(json.loads(s.model_dump_json()))
    assert [t.task_id for t in again.tasks()] == [t.task_id for t in s.tasks()]
