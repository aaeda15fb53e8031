"""Facts of the ColonyOS protocol that every side of hpcq shares (server, executor, client, tests).

One place for each: the process states as colonies numbers them, the messages pycolonies turns
into exceptions, and how hpcq classifies those exceptions. pycolonies raises one exception type
for everything, so the classification reads the message text; keep every such string here.
"""

from __future__ import annotations

from enum import IntEnum


class ProcessState(IntEnum):
    """colonies' process (and process-graph) states, as its Go constants number them."""

    NOTSET = -1  # "any state" in list/count requests
    WAITING = 0
    RUNNING = 1
    SUCCESS = 2
    FAILED = 3
    CANCELLED = 4  # added in colonies v1.9.12 (cancelprocessmsg); v1.9.7 servers never report it

    @property
    def final(self) -> bool:
        return self in (ProcessState.SUCCESS, ProcessState.FAILED, ProcessState.CANCELLED)

    @property
    def label(self) -> str:
        return self.name.lower()


# The server's answer to an assign long-poll that found nothing (HTTP 404 body message).
NO_PROCESS = "No process available for assignment"

# Text of a pycolonies exception when the server could not be reached at all.
UNREACHABLE_MARKERS = (
    "Connection refused",
    "Max retries exceeded",
    "Failed to establish",
    "Connection aborted",
    "Remote end closed",
)


def is_no_process(exc: BaseException) -> bool:
    """An empty assign poll (not an error)."""
    return NO_PROCESS in str(exc)


def is_unreachable(exc: BaseException) -> bool:
    """The server did not answer (down, wrong host/port): worth waiting for, not a refusal."""
    text = str(exc)
    return any(m in text for m in UNREACHABLE_MARKERS)


def is_not_found(exc: BaseException) -> bool:
    """The server answered that the process (or graph) does not exist (removed, or never was)."""
    text = str(exc).lower()
    return "not found" in text or "does not exist" in text


def file_label(colony: str, process_id: str) -> str:
    """The ColonyFS label under which a process's result files are registered (hpcq's convention)."""
    return f"/hpcq/{colony}/{process_id}"
