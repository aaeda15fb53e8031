"""Scale tests: memory model, sampled counts, trajectories, MPS, distributed statevector, GPU."""

from __future__ import annotations

from typing import Any


def tfim_sweep(study: str, n: int, maxiter: int, *, optimizer: str = "cobyla", seed: int = 0, **fields: Any) -> dict:
    """The scale tests' sweep: one open TFIM chain of ``n`` sites, real_amplitudes reps 1, one
    optimizer and seed; ``fields`` adds or replaces sweep fields."""
    return {
        "study": study,
        "problems": [{"kind": "tfim", "n_qubits": n}],
        "ansatze": [{"kind": "real_amplitudes", "reps": 1}],
        "optimizers": [{"kind": optimizer, "maxiter": maxiter}],
        "seeds": [seed],
        **fields,
    }
