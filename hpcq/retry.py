"""The one retry/backoff policy of hpcq: exponential, capped, with jitter.

Every loop that waits for something outside hpcq (server unreachable, sbatch refused while
slurmctld restarts, assign errors) takes its delays from here, so they all behave alike.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """Delay n (0-based) = min(cap, base * factor**n), times a jitter factor in [1-j, 1+j]."""

    base_s: float = 1.0
    cap_s: float = 30.0
    factor: float = 2.0
    jitter: float = 0.5

    def delay(self, attempt: int, rng: Callable[[float, float], float] = random.uniform) -> float:
        raw = min(self.cap_s, self.base_s * self.factor ** max(0, attempt))
        return raw * rng(1 - self.jitter, 1 + self.jitter) if self.jitter else raw

    def delays(self) -> Iterator[float]:
        n = 0
        while True:
            yield self.delay(n)
            n += 1


def retry(
    fn: Callable[[], object],
    *,
    should_retry: Callable[[BaseException], bool],
    deadline_s: float,
    policy: Backoff = Backoff(),
    on_retry: Callable[[BaseException, float], None] | None = None,
    sleep: Callable[[float], object] = time.sleep,
):
    """Call ``fn`` until it returns; retry the exceptions ``should_retry`` accepts until
    ``deadline_s`` seconds have passed (then the last exception is raised)."""
    end = time.monotonic() + deadline_s
    for attempt in range(1_000_000):
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 - the predicate decides
            wait = policy.delay(attempt)
            if not should_retry(exc) or time.monotonic() + wait > end:
                raise
            if on_retry is not None:
                on_retry(exc, wait)
            sleep(wait)
    raise AssertionError("unreachable")
