"""Every QPU transpile is checked equal to the logical circuit (hpcq.qpu.transpile), and the check
catches iqm-client 35's final-RZ defect (docs/qpu.md): with the IQM default scheduling stage
(drop_final_rz=True) the check fails; with hpcq's exact stage it passes. Runs in .venv-qpu."""

from __future__ import annotations

import numpy as np
import pytest
from qiskit.circuit.library import efficient_su2

from hpcq.qpu.transpile import TranspileMismatch, check_equivalent, check_native, isa_circuit, pass_manager
from hpcq.qpu.twin import make_twin


@pytest.fixture(scope="module")
def star6():
    return make_twin({"kind": "iqm_star", "qubits": 6})[0]


def _hea(n=4):
    return efficient_su2(n, ["ry", "rz"], entanglement="linear", reps=1)


def test_fixed_transpile_is_equivalent_on_star_and_grid(star6):
    qc = _hea()
    values = np.random.default_rng(1).uniform(-np.pi, np.pi, (2, qc.num_parameters))
    for backend in (star6, make_twin({"kind": "iqm_fake", "fake": "garnet"})[0]):
        isa = isa_circuit(qc, backend)
        assert {i.operation.name for i in isa.data} <= {"r", "cz", "move", "barrier", "measure"}
        rec = check_equivalent(qc, isa, values=values)
        assert rec["checked"] and rec["fidelity_min"] > 1 - 1e-6
        check_native(isa, backend)  # native gates on loci the chip has (MOVE routing on the star)
    assert "move" in {i.operation.name for i in isa_circuit(qc, star6).data}


def test_qiskit_default_stage_leaves_uncoupled_czs_on_a_star_and_check_native_says_so(star6):
    """Qiskit's "default" scheduling keeps final RZs but skips IQM's MOVE routing: CZs between two
    qubits of the star reach the device, which refuses them (seen against the stand-in)."""
    isa = pass_manager(star6, 1, scheduling_method="default").run(_hea())
    with pytest.raises(TranspileMismatch, match="not native"):
        check_native(isa, star6)


@pytest.mark.parametrize("level", [1, 3])
def test_check_fails_on_the_final_rz_defect_and_passes_with_the_fix(star6, level):
    qc = _hea()
    values = np.random.default_rng(2).uniform(-np.pi, np.pi, (1, qc.num_parameters))
    defect = pass_manager(star6, level, scheduling_method=None).run(qc)  # iqm-client 35's default stage
    with pytest.raises(TranspileMismatch, match="exact scheduling stage"):
        check_equivalent(qc, defect, values=values)
    fixed = pass_manager(star6, level).run(qc)
    assert check_equivalent(qc, fixed, values=values)["checked"]


def test_twin_is_labelled_not_calibrated():
    backend, label = make_twin({"kind": "iqm_star", "qubits": 24})
    assert backend.num_qubits == 24 and backend.architecture.computational_resonators == ["CR1"]
    assert "NOT calibrated" in label
