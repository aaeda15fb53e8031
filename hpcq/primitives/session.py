"""Session: one Slurm allocation that serves many primitive calls (a VQE loop: one per iteration).

``Session()`` submits a ``primitive_session`` process; its Slurm job runs a loop that takes the
calls the executor drops into its inbox (hpcq.executor.sessions). Calls are ordinary
``primitive_run`` processes naming the session, so they are journaled, logged, cancelled and
closed like every other process, and no ColonyOS key ever reaches the job. The session ends on
close() (also at the end of a ``with`` block), after ``idle_timeout_s`` without calls (so a laptop
that disappears leaves no job behind) and at its walltime.
"""

from __future__ import annotations

import time
from typing import Any

from hpcq.colonyos import ProcessState, executor_name
from hpcq.functions import PRIMITIVE_SESSION
from hpcq.primitives.options import EstimatorOptions, make_options
from hpcq.primitives.remote import POLL, submit_call


class SessionError(RuntimeError):
    pass


def _final(p) -> bool:
    return ProcessState(p.state).final


class Session:
    def __init__(
        self,
        *,
        options: Any = None,
        settings: Any = None,
        idle_timeout_s: float = 300.0,
        start_timeout_s: float = 120.0,
        **kwargs: Any,
    ):
        from hpcq.client.api import Client
        from hpcq.primitives.params import SessionParams

        self._options = make_options(EstimatorOptions, options, kwargs)
        self._params = SessionParams(idle_timeout_s=idle_timeout_s, label=self._options.label).model_dump()
        self.start_timeout_s = start_timeout_s
        self.client = Client(settings)
        self.session_id: str | None = None
        self.executor = ""  # the name of the executor whose Slurm job serves the session
        self._sub: Any = None  # the session process's hpcq.results.records.Submission
        self.calls = 0

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> Session:
        """Submit the session process and wait until its Slurm job is submitted (not until it runs:
        calls queue in the inbox and run as soon as the allocation starts)."""
        if self.session_id is not None:
            return self
        self._sub = submit_call(self.client, self._params, self._options, funcname=PRIMITIVE_SESSION)
        self.session_id = self._sub.processids[0]
        end = time.monotonic() + self.start_timeout_s
        for delay in POLL.delays():
            p = self.process()
            if _final(p):
                raise SessionError(
                    f"session {self.session_id} ended before it started: "
                    + "; ".join(p.errors or [ProcessState(p.state).label])
                )
            if self.slurm_job_id(p):
                self.executor = executor_name(
                    self.client.colonies, self.client.colony, self.client.key, p.assignedexecutorid or ""
                )
                return self
            if time.monotonic() > end:
                raise SessionError(
                    f"session {self.session_id} has no Slurm job after {self.start_timeout_s} s "
                    f"(state {ProcessState(p.state).label}); is an hpcq executor of type "
                    f"{self._options.executor_type!r} running?"
                )
            time.sleep(delay)
        raise AssertionError("unreachable")

    def process(self):
        return self.client.colonies.get_process(self.session_id, self.client.key)

    @staticmethod
    def slurm_job_id(p) -> str:
        for a in p.attributes or []:
            if a.key == "slurm_job_id":
                return a.value
        return ""

    def close(self, timeout: float = 60.0) -> dict[str, Any] | None:
        """Ask the session job to finish (a close call through the inbox) and wait for it."""
        if self.session_id is None:
            return None
        p = self.process()
        if not _final(p):
            p = self._close_call(timeout)
        if not _final(p):
            self.cancel()
            p = self.process()
        self.closed_process = p
        return {"state": ProcessState(p.state).label, "output": list(p.output or []), "errors": list(p.errors or [])}

    def _close_call(self, timeout: float):
        """Submit the close call; poll until the session is final, the close call was refused
        (failed or cancelled) or ``timeout`` passed. Returns the session's last process."""
        params = {"primitive": "estimator", "op": "close", "session": self.session_id, "label": "close"}
        call = submit_call(
            self.client, params, self._options, walltime=self._options.resources.walltime, executor=self.executor
        )
        end = time.monotonic() + timeout
        for delay in POLL.delays():
            time.sleep(delay)
            p = self.process()
            if _final(p) or time.monotonic() >= end:
                return p
            closing = self.client.colonies.get_process(call.processids[0], self.client.key)
            if ProcessState(closing.state) in (ProcessState.FAILED, ProcessState.CANCELLED):
                return p  # the close call was refused: the caller cancels the session instead
        raise AssertionError("unreachable")

    def cancel(self) -> None:
        """Cancel the session's process and Slurm job now (hpcq's cancel path)."""
        if self._sub is not None:
            self.client.cancel(self._sub)

    def __enter__(self) -> Session:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # -- calls ----------------------------------------------------------------------------------
    def submit_call(self, params: dict[str, Any], options):
        """Submit one primitive_run process routed to this session's job."""
        if self.session_id is None:
            self.start()
        self.calls += 1
        wall = self._options.resources.walltime  # bounded by the session's own allocation
        return self.client, submit_call(self.client, params, options, walltime=wall, executor=self.executor)
