"""Watch submitted processes: counts by state, ETA, and the errors of failed steps.

Polls ``get_process`` for unfinished processes only (finished ones are cached), so the cost of a
poll shrinks as the study completes. Works for single processes, sweeps and workflows alike.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from hpcq.colonyos import ProcessState, is_not_found, is_unreachable
from hpcq.retry import Backoff, retry

__all__ = ["BUCKETS", "Snapshot", "Tracker", "bucket", "is_not_found", "rich_watch", "watch"]
# The progress line (and `hpcq status --json`'s counts) sorts processes into buckets. A state's own
# name is ProcessState.label (hpcq.colonyos: the one spelling on the client side; the server keeps
# colonies' words); the buckets reuse it, except that a successful process counts as "done".
# "removed" counts the processes the server no longer has (removed on a server without cancel).
BUCKETS: dict[int, str] = {
    s: s.label for s in (ProcessState.WAITING, ProcessState.RUNNING, ProcessState.FAILED, ProcessState.CANCELLED)
}
BUCKETS |= {ProcessState.SUCCESS: "done"}
ENDED = ("done", "failed", "cancelled", "removed")  # buckets of processes that will not change again
SERVER_WAIT_S = 300.0  # a watch keeps retrying an unreachable server this long before giving up


def bucket(state: int) -> str:
    """The progress line's bucket of a process state (one it does not know counts as waiting)."""
    return BUCKETS.get(state, "waiting")


@dataclass
class Snapshot:
    counts: dict[str, int]
    total: int
    failed: list[tuple[str, str, list[str]]] = field(default_factory=list)  # (pid, nodename, errors)
    eta_s: float | None = None
    elapsed_s: float = 0.0

    @property
    def finished(self) -> bool:
        return sum(self.counts[b] for b in ENDED) >= self.total

    def line(self) -> str:
        c = self.counts
        eta = f", ETA {self.eta_s:.0f} s" if self.eta_s is not None and not self.finished else ""
        gone = "".join(f" / {c[b]} {b}" for b in ("cancelled", "removed") if c[b])
        return (
            f"{c['done']} done / {c['failed']} failed / {c['running']} running / "
            f"{c['waiting']} waiting{gone} of {self.total}{eta}"
        )


class Tracker:
    """Keeps the last known state of each process; ``poll()`` returns a Snapshot."""

    def __init__(self, client, prvkey: str, processids: list[str], nodenames: dict[str, str] | None = None):
        self.client = client
        self.prvkey = prvkey
        self.ids = list(processids)
        self.nodenames = nodenames or {}
        self.final: dict[str, tuple[int, list[str], list]] = {}  # pid -> (state, errors, outputs)
        self.states: dict[str, str] = {}  # pid -> its bucket at the last poll
        self.assigned: dict[str, str] = {}  # pid -> the executor id it was (last) assigned to
        self.t0 = time.time()

    def poll(self) -> Snapshot:
        counts = {"waiting": 0, "running": 0, "done": 0, "failed": 0, "cancelled": 0, "removed": 0}
        failed = []
        for pid in self.ids:
            if pid in self.final:
                state, errors, _ = self.final[pid]
            else:
                try:
                    p = self.client.get_process(pid, self.prvkey)
                except Exception as exc:  # pycolonies raises one exception type for everything
                    if is_not_found(exc):
                        counts["removed"] += 1
                        self.states[pid] = "removed"
                        continue
                    raise
                state, errors = p.state, list(p.errors or [])
                self.assigned[pid] = str(getattr(p, "assignedexecutorid", "") or "")
                if ProcessState(state).final:
                    self.final[pid] = (state, errors, list(p.output or []))
            counts[bucket(state)] += 1
            self.states[pid] = bucket(state)
            if state == ProcessState.FAILED:
                failed.append((pid, self.nodenames.get(pid, ""), errors))
        elapsed = time.time() - self.t0
        finished = counts["done"] + counts["failed"]
        remaining = len(self.ids) - finished - counts["cancelled"] - counts["removed"]
        eta = elapsed / finished * remaining if finished else None
        return Snapshot(counts, len(self.ids), failed, eta, elapsed)

    def by_site(self, executors: dict[str, tuple[str, str]]) -> dict[str, dict[str, int]]:
        """Counts per site (``executors``: executor id -> (site, name), hpcq.client.sites.executor_sites);
        a process not assigned yet counts under "-", one whose executor is gone under "?"."""
        out: dict[str, dict[str, int]] = {}
        for pid in self.ids:
            site = self.site_of(pid, executors)[0]
            row = out.setdefault(site, dict.fromkeys((*BUCKETS.values(), "removed"), 0))
            row[self.states.get(pid, "waiting")] += 1
        return out

    def site_of(self, pid: str, executors: dict[str, tuple[str, str]]) -> tuple[str, str]:
        """(site, executor name) of the executor a process was assigned to; ("-", "") if none yet."""
        eid = self.assigned.get(pid, "")
        if not eid:
            return "-", ""
        site, name = executors.get(eid, ("?", ""))
        return site or "(no site)", name

    def outputs(self) -> dict[str, list]:
        return {pid: out for pid, (state, _, out) in self.final.items() if state == ProcessState.SUCCESS}


def watch(
    tracker: Tracker,
    *,
    interval: float = 1.0,
    timeout: float | None = None,
    show: Callable[[Snapshot], None] | None = None,
) -> Snapshot:
    """Poll until every process is finished (or timeout); ``show`` gets each snapshot."""
    deadline = time.time() + timeout if timeout else None
    while True:
        snap = retry(tracker.poll, should_retry=is_unreachable, deadline_s=SERVER_WAIT_S, policy=Backoff(cap_s=10.0))
        if show:
            show(snap)
        if snap.finished or (deadline and time.time() > deadline):
            return snap
        time.sleep(interval)


def rich_watch(tracker: Tracker, *, interval: float = 1.0, timeout: float | None = None, console=None) -> Snapshot:
    """``watch`` with a rich progress bar (done+failed of total) and the state counts."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = console or Console()
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[states]}"),
        console=console,
        transient=False,
    ) as bar:
        task = bar.add_task("processes", total=len(tracker.ids), states="")
        seen_failed: set[str] = set()

        def show(snap: Snapshot) -> None:
            c = snap.counts
            bar.update(
                task,
                completed=c["done"] + c["failed"] + c["removed"],
                states=f"{c['running']} running, {c['waiting']} waiting, {c['failed']} failed",
            )
            for pid, node, errors in snap.failed:
                if pid not in seen_failed:
                    seen_failed.add(pid)
                    label = node or pid[:12]
                    if errors:  # graph members failed by ColonyOS' fail-all rule carry no error
                        bar.console.print(f"[red]step {label} FAILED:[/red] {'; '.join(errors)}")

        return watch(tracker, interval=interval, timeout=timeout, show=show)
