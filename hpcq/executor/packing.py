"""Group assigned processes into Slurm jobs, so a 1,000-process sweep is a few sbatch calls.

Processes are grouped by a key (function + submitit parameters: same function, same resources).
A group becomes one Slurm job array when it reaches ``max_batch`` processes or ``max_wait_s``
after its first process arrived. A process that arrives while the executor was idle (nothing
assigned for ``burst_gap_s``) is submitted at once: a lone interactive process never waits for
a batch that will not come, while the rest of a burst is collected.

``per_element`` > 1 packs that many processes into one array element that runs them one after
another (one Python start for many short tasks; the element's time limit is multiplied).
"""

from __future__ import annotations

import time
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class PackingConfig:
    max_batch: int = 100  # processes per Slurm job (array)
    max_wait_s: float = 2.0  # how long a group may wait to fill, from its first process
    burst_gap_s: float = 1.0  # arrivals closer than this count as one burst
    per_element: int = 1  # processes run one after another in one array element

    def check(self) -> None:
        for name in ("max_batch", "per_element"):
            if getattr(self, name) < 1:
                raise ValueError(f"packing {name}={getattr(self, name)} must be >= 1")
        if self.max_wait_s < 0 or self.burst_gap_s < 0:
            raise ValueError("packing max_wait_s and burst_gap_s must be >= 0")


@dataclass
class Group:
    key: Hashable
    items: list[Any] = field(default_factory=list)
    deadline: float = 0.0


class Packer:
    def __init__(self, cfg: PackingConfig):
        cfg.check()
        self.cfg = cfg
        self.groups: dict[Hashable, Group] = {}
        self._last_arrival = float("-inf")

    def add(self, key: Hashable, item: Any, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        burst = now - self._last_arrival < self.cfg.burst_gap_s
        self._last_arrival = now
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = Group(key, deadline=now + self.cfg.max_wait_s if burst else now)
        group.items.append(item)

    def due(self, now: float | None = None) -> list[Group]:
        """Remove and return the groups that are full or past their deadline."""
        now = time.monotonic() if now is None else now
        ready = [g for g in self.groups.values() if len(g.items) >= self.cfg.max_batch or g.deadline <= now]
        for g in ready:
            del self.groups[g.key]
        out = []
        for g in ready:  # a group over max_batch (cannot happen via add+due, but be safe) is split
            for i in range(0, len(g.items), self.cfg.max_batch):
                out.append(Group(g.key, g.items[i : i + self.cfg.max_batch], g.deadline))
        return out

    def flush(self) -> list[Group]:
        out = list(self.groups.values())
        self.groups.clear()
        return out

    def remove(self, match) -> list[Any]:
        """Take out (and return) the waiting items for which ``match(item)`` is true."""
        out = []
        for key, g in list(self.groups.items()):
            keep = [it for it in g.items if not match(it)]
            out += [it for it in g.items if match(it)]
            if keep:
                g.items = keep
            else:
                del self.groups[key]
        return out

    def next_deadline(self) -> float | None:
        return min((g.deadline for g in self.groups.values()), default=None)

    def pending(self) -> int:
        return sum(len(g.items) for g in self.groups.values())


def elements(items: list[Any], per_element: int) -> list[list[Any]]:
    """Split a batch into array elements of at most ``per_element`` items each."""
    return [items[i : i + per_element] for i in range(0, len(items), per_element)]
