"""COBYLA, SPSA and L-BFGS-B over a batched energy function.

``fun_batch(X) -> energies`` evaluates several parameter vectors in one simulator call (gradients
and SPSA pairs cost one call, not 2P). Everything is deterministic given the seed.

Trace semantics (what /trace in the HDF5 file holds):
  cobyla    every objective evaluation (each is a trial iterate)
  l_bfgs_b  the iterate after each L-BFGS-B iteration (scipy callback)
  spsa      per iteration the new point and the mean of its two perturbed energies
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize as scipy_minimize

from hpcq.sim.spec import OptimizerSpec

FunBatch = Callable[[np.ndarray], np.ndarray]


@dataclass
class OptResult:
    x: np.ndarray
    fun: float
    evaluations: int = 0
    trace_x: list[np.ndarray] = field(default_factory=list)
    trace_f: list[float] = field(default_factory=list)
    message: str = ""

    @property
    def iterations(self) -> int:
        return len(self.trace_f)


class _Counted:
    """Counts circuit evaluations and remembers the last energy at each point."""

    def __init__(self, fun_batch: FunBatch):
        self.fun_batch = fun_batch
        self.evaluations = 0
        self.cache: dict[bytes, float] = {}

    def batch(self, X: np.ndarray) -> np.ndarray:
        X = np.atleast_2d(np.asarray(X, dtype=float))
        vals = np.asarray(self.fun_batch(X), dtype=float)
        self.evaluations += len(X)
        for x, v in zip(X, vals, strict=True):
            self.cache[x.tobytes()] = float(v)
        return vals

    def one(self, x: np.ndarray) -> float:
        return float(self.batch(np.asarray(x)[None, :])[0])


def _gradient_points(x: np.ndarray, kind: str) -> tuple[np.ndarray, float]:
    """Rows [x, x+s e_0, ..., x-s e_0, ...] and the divisor for (f+ - f-)/divisor."""
    n = len(x)
    s = np.pi / 2 if kind == "parameter_shift" else 1e-4
    eye = np.eye(n) * s
    X = np.vstack([x[None, :], x + eye, x - eye])
    return X, (2.0 if kind == "parameter_shift" else 2.0 * s)


def minimize(
    spec: OptimizerSpec, fun_batch: FunBatch, x0: np.ndarray, seed: int, gradient: str | None = None
) -> OptResult:
    f = _Counted(fun_batch)
    x0 = np.asarray(x0, dtype=float)
    if spec.kind == "cobyla":
        tx, tf = [], []

        def obj(x):
            v = f.one(x)
            tx.append(np.array(x))
            tf.append(v)
            return v

        opts = {"maxiter": spec.maxiter}
        res = scipy_minimize(obj, x0, method="COBYLA", tol=spec.tol, options=opts)
        return OptResult(np.asarray(res.x), float(res.fun), f.evaluations, tx, tf, str(res.message))
    if spec.kind == "l_bfgs_b":
        kind = gradient or spec.gradient
        tx, tf = [], []

        def obj(x):
            X, div = _gradient_points(np.asarray(x, float), kind)
            vals = f.batch(X)
            n = len(x)
            return float(vals[0]), (vals[1 : n + 1] - vals[n + 1 :]) / div

        def cb(xk):
            xk = np.asarray(xk, float)
            v = f.cache.get(xk.tobytes())
            tx.append(xk.copy())
            tf.append(f.one(xk) if v is None else v)

        opts = {"maxiter": spec.maxiter}
        res = scipy_minimize(obj, x0, jac=True, method="L-BFGS-B", tol=spec.tol, options=opts, callback=cb)
        return OptResult(np.asarray(res.x), float(res.fun), f.evaluations, tx, tf, str(res.message))
    return _spsa(spec, f, x0, seed)


def _spsa(spec: OptimizerSpec, f: _Counted, x: np.ndarray, seed: int) -> OptResult:
    """Spall's SPSA (alpha=0.602, gamma=0.101), learning rate calibrated like Qiskit's when absent:
    the first step's expected magnitude is 2*pi/10."""
    rng = np.random.default_rng(seed)
    alpha, gamma, c = 0.602, 0.101, spec.perturbation
    a = spec.learning_rate
    if a is None:
        deltas = rng.choice([-1.0, 1.0], size=(10, len(x)))
        pts = np.vstack([np.vstack([x + c * d, x - c * d]) for d in deltas])
        vals = f.batch(pts).reshape(10, 2)
        mag = float(np.mean(np.abs(vals[:, 0] - vals[:, 1]) / (2 * c)))
        a = (2 * np.pi / 10) / mag if mag > 0 else 0.1
    tx, tf = [], []
    for k in range(spec.maxiter):
        ak, ck = a / (k + 1) ** alpha, c / (k + 1) ** gamma
        d = rng.choice([-1.0, 1.0], size=len(x))
        fp, fm = f.batch(np.vstack([x + ck * d, x - ck * d]))
        x = x - ak * (fp - fm) / (2 * ck) * d
        tx.append(x.copy())
        tf.append(float(0.5 * (fp + fm)))
        if spec.tol is not None and k >= 10 and abs(tf[-1] - tf[-11]) < spec.tol:
            break
    fun = f.one(x)
    return OptResult(x, fun, f.evaluations, tx, tf, "SPSA finished")
