"""Per-run metrics: accuracy vs the exact energy, and noisy-vs-ideal output distributions.

All distribution measures use bits (log base 2). Undefined values are NaN:
entropy_ratio when the ideal entropy is 0; state_fidelity when no density matrix was simulated.
"""

from __future__ import annotations

import math

import numpy as np

CHEMICAL_ACCURACY_HA = 1.6e-3


def shannon_entropy(p: np.ndarray) -> float:
    p = np.asarray(p, dtype=float)
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum()) + 0.0


def js_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence, base 2 (0 = identical, 1 = disjoint supports)."""
    p, q = np.asarray(p, float), np.asarray(q, float)
    m = 0.5 * (p + q)

    def kl(a):
        mask = a > 0
        return float((a[mask] * np.log2(a[mask] / m[mask])).sum())

    return max(0.0, 0.5 * kl(p) + 0.5 * kl(q))


def classical_fidelity(p: np.ndarray, q: np.ndarray) -> float:
    """Squared Bhattacharyya coefficient (sum sqrt(p q))^2 in [0, 1]."""
    bc = float(np.sqrt(np.clip(p, 0, None) * np.clip(q, 0, None)).sum())
    return min(1.0, bc * bc)


def accuracy_metrics(energy: float, exact: float) -> dict[str, float | bool]:
    abs_err = abs(energy - exact)
    return {
        "energy": float(energy),
        "exact_energy": float(exact),
        "abs_error": abs_err,
        "rel_error": abs_err / abs(exact) if exact != 0 else math.nan,
        "chemical_accuracy": bool(abs_err <= CHEMICAL_ACCURACY_HA),
    }


def distribution_metrics(ideal: np.ndarray, noisy: np.ndarray) -> dict[str, float]:
    h_i, h_n = shannon_entropy(ideal), shannon_entropy(noisy)
    return {
        "entropy_ideal": h_i,
        "entropy_noisy": h_n,
        "delta_entropy": h_n - h_i,
        "entropy_ratio": h_n / h_i if h_i > 1e-12 else math.nan,
        "jsd": js_divergence(ideal, noisy),
        "fidelity": classical_fidelity(ideal, noisy),
    }
