"""Distribution metrics on hand-checkable inputs."""

import math

import numpy as np
import pytest

from hpcq.sim import metrics as M
from hpcq.sim.noise import apply_readout


def test_entropy_jsd_fidelity_known_values():
    u = np.full(4, 0.25)
    d = np.array([1.0, 0, 0, 0])
    assert M.shannon_entropy(u) == pytest.approx(2.0)
    assert M.shannon_entropy(d) == 0.0
    assert M.js_divergence(d, np.array([0, 1.0, 0, 0])) == pytest.approx(1.0)
    assert M.js_divergence(u, u) == 0.0
    assert M.classical_fidelity(d, u) == pytest.approx(0.25)
    m = M.distribution_metrics(d, u)
    assert m["delta_entropy"] == pytest.approx(2.0) and math.isnan(m["entropy_ratio"])
    assert M.distribution_metrics(u, u)["entropy_ratio"] == pytest.approx(1.0)


def test_accuracy_and_chemical_accuracy_flag():
    assert M.accuracy_metrics(-1.0, -1.0015)["chemical_accuracy"] is True
    acc = M.accuracy_metrics(-1.0, -1.002)
    assert acc["chemical_accuracy"] is False and acc["rel_error"] == pytest.approx(0.002 / 1.002)
    assert math.isnan(M.accuracy_metrics(0.1, 0.0)["rel_error"])


def test_readout_matrix_acts_on_the_right_qubit():
    p = np.array([1.0, 0, 0, 0])  # |00>
    flip_q0 = np.array([[0.9, 0.1], [0.2, 0.8]])
    out = apply_readout(p, [flip_q0, None])
    assert out == pytest.approx([0.9, 0.1, 0, 0])  # index 1 = qubit 0 reads 1
    out = apply_readout(p, [None, flip_q0])
    assert out == pytest.approx([0.9, 0, 0.1, 0])
