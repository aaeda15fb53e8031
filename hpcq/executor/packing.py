"""Group assigned processes into Slurm jobs, so a 1,000-process sweep is a few sbatch calls.

Processes are grouped by a key (function + submitit parameters: same function, same resources).
A group becomes one Slurm job array when it reaches ``batch_max`` processes or ``batch_wait_s``
after its first process arrived. A process that arrives while the executor was idle (nothing
assigned for ``burst_gap_s``) is submitted at once: a lone interactive process never waits for
a batch that will not come, while the rest of a burst is collected.

``pack`` > 1 packs that many processes into one array element that runs them one after
another (one Python start for many short tasks; the element's time limit is multiplied).
The knobs are hpcq.config.ExecutorSettings fields (their defaults and ranges live there).
"""

from __future__ import annotations

import time
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from hpcq.config import ExecutorSettings


@dataclass
class Group:
    key: Hashable
    items: list[Any] = field(default_factory=list)
    deadline: float = 0.0


class Packer:
    def __init__(self, cfg: ExecutorSettings):
        self.cfg = cfg
        self.groups: dict[Hashable, Group] = {}
        self._last_arrival = float("-inf")

    def add(self, key: Hashable, item: Any, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        burst = now - self._last_arrival < self.cfg.burst_gap_s
        self._last_arrival = now
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = Group(key, deadline=now + self.cfg.batch_wait_s if burst else now)
        group.items.append(item)

    def due(self, now: float | None = None) -> list[Group]:
        """Remove and return the groups that are full or past their deadline."""
        now = time.monotonic() if now is None else now
        ready = [g for g in self.groups.values() if len(g.items) >= self.cfg.batch_max or g.deadline <= now]
        for g in ready:
            del self.groups[g.key]
        out = []
        for g in ready:  # a group over batch_max (cannot happen via add+due, but be safe) is split
            for i in range(0, len(g.items), self.cfg.batch_max):
                out.append(Group(g.key, g.items[i : i + self.cfg.batch_max], g.deadline))
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


def elements(items: list[Any], pack: int) -> list[list[Any]]:
    """Split a batch into array elements of at most ``pack`` items each."""
    return [items[i : i + pack] for i in range(0, len(items), pack)]
