"""Per-run metrics: accuracy vs the exact energy, and noisy-vs-ideal output distributions.

All distribution measures use bits (log base 2). Undefined values are NaN:
entropy_ratio when the ideal entropy is 0; state_fidelity when no density matrix was simulated.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

# 1.6 mHa (~1 kcal/mol): the one threshold, compared in one place (chemically_accurate, inclusive);
# the dashboard and the synthetic fixtures import both (this module needs numpy only).
CHEMICAL_ACCURACY_HA = 1.6e-3


def chemically_accurate(abs_error: float) -> bool:
    """|E - E_exact| <= CHEMICAL_ACCURACY_HA."""
    return bool(abs_error <= CHEMICAL_ACCURACY_HA)


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
        "chemical_accuracy": chemically_accurate(abs_err),
    }


def chemistry_metrics(energy: float, exact: float, hf: float) -> dict[str, float]:
    """HF energy, signed error (energy - exact: > 0 above the exact energy) and the correlation
    energy recovered in percent, 100 (E_HF - E) / (E_HF - E_exact): 100 at the exact energy, 0 at
    HF, negative above HF; NaN when the correlation energy is below 1 µHa (nothing to recover) or
    there is no exact reference."""
    corr = hf - exact
    return {
        "hf_energy": float(hf),
        "signed_error": float(energy - exact),
        "correlation_recovered_pct": 100.0 * (hf - energy) / corr if abs(corr) >= 1e-6 else math.nan,
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


# --------------------------------------------------------------------------- from sampled counts
# Above the dense limit (hpcq.sim.memory.DENSE_MAX_QUBITS, or the spec's distributions.max_qubits)
# files hold sampled counts, and the distribution metrics are estimated from them, each with its
# bootstrap error (metric name + SAMPLED_ERR_SUFFIX). The estimators are named in the file
# (/tasks/<id>/counts attributes, docs/results-format.md).

ENTROPY_ESTIMATOR = "miller_madow"  # plug-in + (K - 1) / (2 N ln 2)
JSD_ESTIMATOR = "miller_madow_mixture"  # H_MM(M) - (H_MM(P) + H_MM(Q)) / 2, clipped at 0
FIDELITY_ESTIMATOR = "plug_in_bootstrap_bias_corrected"  # 2 F(p^, q^) - mean of the replicates
ERROR_ESTIMATOR = "bootstrap_rmse"  # sqrt(mean((replicate - estimate)^2)): spread and bias together
BOOTSTRAP = "parametric_multinomial"  # each count set resampled from its own observed frequencies
BOOTSTRAP_REPLICATES = 200
SAMPLED_ERR_SUFFIX = "_err"
DISTRIBUTION_METRICS = ("entropy_ideal", "entropy_noisy", "delta_entropy", "entropy_ratio", "jsd", "fidelity")
SAMPLED_ERR_METRICS = tuple(k + SAMPLED_ERR_SUFFIX for k in DISTRIBUTION_METRICS)
_LN2 = math.log(2.0)


def miller_madow_entropy(counts: np.ndarray) -> np.ndarray:
    """Miller-Madow bias-corrected plug-in entropy (bits) of count vectors (last axis):
    H_plugin + (K - 1) / (2 N ln 2), K = outcomes observed, N = shots. The correction removes the
    first-order bias -(K-1)/(2N ln 2) of the plug-in estimate; it stays low (a lower bound in
    practice) when the shots do not cover the distribution's effective support 2^H."""
    c = np.asarray(counts, dtype=float)
    n = c.sum(axis=-1)
    k = (c > 0).sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        clog = np.where(c > 0, c * np.log2(np.where(c > 0, c, 1.0)), 0.0).sum(axis=-1)
        h = np.log2(n) - clog / n + (k - 1) / (2 * n * _LN2)
    return np.where(n > 0, h, np.nan)


def _mixture_entropy(c1: np.ndarray, c2: np.ndarray) -> np.ndarray:
    """Miller-Madow entropy of M = (P + Q)/2 from (p^ + q^)/2: the plug-in value plus
    (K - 1) / (2 N_eff ln 2), N_eff = 4 / (1/N1 + 1/N2) (= 2N for equal shots: the pooled sample)."""
    n1 = c1.sum(axis=-1, keepdims=True).astype(float)
    n2 = c2.sum(axis=-1, keepdims=True).astype(float)
    m = 0.5 * (c1 / n1 + c2 / n2)
    k = (m > 0).sum(axis=-1)
    h = -np.where(m > 0, m * np.log2(np.where(m > 0, m, 1.0)), 0.0).sum(axis=-1)
    n_eff = 4.0 / (1.0 / n1[..., 0] + 1.0 / n2[..., 0])
    return h + (k - 1) / (2 * n_eff * _LN2)


def _sampled(c1: np.ndarray, c2: np.ndarray) -> dict[str, np.ndarray]:
    """The distribution metrics of aligned count arrays (last axis = outcomes; leading = replicates);
    fidelity without its bias correction (that needs the replicates)."""
    h1, h2 = miller_madow_entropy(c1), miller_madow_entropy(c2)
    jsd = np.maximum(0.0, _mixture_entropy(c1, c2) - 0.5 * (h1 + h2))
    p = c1 / c1.sum(axis=-1, keepdims=True)
    q = c2 / c2.sum(axis=-1, keepdims=True)
    fid = np.minimum(1.0, np.sqrt(p * q).sum(axis=-1) ** 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(h1 > 1e-12, h2 / np.where(h1 > 1e-12, h1, 1.0), np.nan)
    return {
        "entropy_ideal": h1,
        "entropy_noisy": h2,
        "delta_entropy": h2 - h1,
        "entropy_ratio": ratio,
        "jsd": jsd,
        "fidelity": fid,
    }


def align_counts(ideal: dict[str, int], noisy: dict[str, int]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Outcomes of either set (sorted) and both count vectors over them."""
    keys = sorted(set(ideal) | set(noisy))
    return (
        keys,
        np.array([ideal.get(k, 0) for k in keys], dtype=np.int64),
        np.array([noisy.get(k, 0) for k in keys], dtype=np.int64),
    )


def estimators() -> dict[str, Any]:
    """What sampled_distribution_metrics uses, as recorded in a file's counts group."""
    return {
        "entropy_estimator": ENTROPY_ESTIMATOR,
        "jsd_estimator": JSD_ESTIMATOR,
        "fidelity_estimator": FIDELITY_ESTIMATOR,
        "error_estimator": ERROR_ESTIMATOR,
        "bootstrap": BOOTSTRAP,
        "bootstrap_replicates": BOOTSTRAP_REPLICATES,
    }


def sampled_distribution_metrics(
    ideal: dict[str, int],
    noisy: dict[str, int],
    seed: int,
    paired: bool = False,
    replicates: int = BOOTSTRAP_REPLICATES,
) -> dict[str, float]:
    """Entropy/JSD/fidelity estimated from sampled counts (outcome -> count), each with its error
    ``<metric>_err``: the root-mean-square deviation of ``replicates`` bootstrap replicates
    (multinomial resamples of each set, seeded by ``seed``) from the estimate, i.e. standard error
    and estimated bias together. ``paired``: the noisy counts ARE the ideal ones (no noise model),
    so JSD = 0, fidelity = 1, delta_entropy = 0 exactly (error 0)."""
    _, c1, c2 = align_counts(ideal, noisy)
    if c1.sum() == 0 or c2.sum() == 0:
        raise ValueError("sampled counts are empty: distributions.shots must be >= 1")
    point = {k: float(v) for k, v in _sampled(c1, c2).items()}
    rng = np.random.default_rng([int(seed), 0x5EED])
    reps: dict[str, list[np.ndarray]] = {k: [] for k in point}
    chunk = max(1, min(replicates, 2_000_000 // max(1, c1.size)))  # bounded memory per batch
    done = 0
    while done < replicates:
        b = min(chunk, replicates - done)
        r1 = rng.multinomial(int(c1.sum()), c1 / c1.sum(), size=b)
        r2 = r1 if paired else rng.multinomial(int(c2.sum()), c2 / c2.sum(), size=b)
        for k, v in _sampled(r1, r2).items():
            reps[k].append(v)
        done += b
    out = dict(point)
    for k, parts in reps.items():
        v = np.concatenate(parts)
        v = v[np.isfinite(v)]
        out[k + SAMPLED_ERR_SUFFIX] = float(np.sqrt(np.mean((v - point[k]) ** 2))) if v.size else math.nan
        if k == "fidelity" and v.size:
            out[k] = float(np.clip(2 * point[k] - v.mean(), 0.0, 1.0))
    if paired:
        out.update(jsd=0.0, jsd_err=0.0, fidelity=1.0, fidelity_err=0.0, delta_entropy=0.0, delta_entropy_err=0.0)
    return out
