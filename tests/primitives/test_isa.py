"""PUBs that Aer cannot run, or that a noise model would leave noiseless, are refused with the fix
(issue 25): Qiskit's V2 primitives take circuits transpiled to the target, and so does hpcq."""

import numpy as np
import pytest
from qiskit import QuantumCircuit, transpile

from hpcq.primitives import EstimatorV2, SamplerV2
from hpcq.primitives.engine import CircuitNotRunnable
from hpcq.sim import problems as P
from hpcq.sim.ansatz import build_ansatz
from hpcq.sim.spec import AnsatzSpec, ProblemSpec

BASIS = ["cx", "rz", "sx", "x"]


def test_untranspiled_uccsd_is_a_clear_error_and_runs_once_transpiled():
    p = ProblemSpec(kind="h2", bond_length=0.735)
    qc = build_ansatz(AnsatzSpec(kind="uccsd"), 2, p)
    H, x = P.hamiltonian(p), np.zeros(qc.num_parameters)
    with pytest.raises(
        CircuitNotRunnable, match=r"pubs\[0\]: the circuit has PauliEvolution, which Aer cannot run; transpile"
    ):
        EstimatorV2(mode="local").run([(qc, H, x)]).result()
    ev = EstimatorV2(mode="local").run([(transpile(qc, basis_gates=BASIS), H, x)]).result()[0].data.evs
    assert float(ev) == pytest.approx(P.reference(p)["hf_energy"], abs=1e-10)  # theta = 0 is HF, a total


def test_gates_outside_the_noise_basis_are_refused_not_run_noiseless():
    c = QuantumCircuit(2)
    c.h(0)
    c.cx(0, 1)
    noisy = {"noise": {"kind": "depolarizing", "p": 0.1}}
    with pytest.raises(CircuitNotRunnable, match=r"gates h are outside the noise model's basis .* without noise"):
        EstimatorV2(mode="local", options=noisy).run([(c, "ZZ")]).result()
    m = c.copy()
    m.measure_all()
    with pytest.raises(CircuitNotRunnable, match="gates h"):
        SamplerV2(mode="local", options=noisy).run([m]).result()
    ev = EstimatorV2(mode="local", options=noisy).run([(transpile(c, basis_gates=BASIS), "ZZ")]).result()[0].data.evs
    assert float(ev) < 0.95  # the noise acts on every gate now
    assert float(EstimatorV2(mode="local").run([(c, "ZZ")]).result()[0].data.evs) == pytest.approx(
        1.0
    )  # noiseless: any gate
