"""Jobs returned by hpcq's primitives (BasePrimitiveJob, not PrimitiveJob, as Qiskit asks).

LocalJob runs the call in a thread of this process; RemoteJob follows a ColonyOS process: its
state is the process state, cancel() goes through hpcq's cancel path (remove a waiting process,
or an ``hpcq_cancel`` control process that scancels the Slurm job), and result() raises the job's
own error message.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from qiskit.primitives import BasePrimitiveJob, PrimitiveResult
from qiskit.providers import JobStatus

from hpcq.colonyos import ProcessState
from hpcq.primitives.remote import POLL

_STATUS = {
    ProcessState.WAITING: JobStatus.QUEUED,
    ProcessState.RUNNING: JobStatus.RUNNING,
    ProcessState.SUCCESS: JobStatus.DONE,
    ProcessState.FAILED: JobStatus.ERROR,
    ProcessState.CANCELLED: JobStatus.CANCELLED,
}
_FINAL = (JobStatus.DONE, JobStatus.ERROR, JobStatus.CANCELLED)


class PrimitiveJobError(RuntimeError):
    """The call failed where it ran; the message is the job's own."""


class JobTimeout(TimeoutError):
    pass


class _Job(BasePrimitiveJob[PrimitiveResult, JobStatus]):
    def running(self) -> bool:
        return self.status() == JobStatus.RUNNING

    def done(self) -> bool:
        return self.status() == JobStatus.DONE

    def cancelled(self) -> bool:
        return self.status() == JobStatus.CANCELLED

    def in_final_state(self) -> bool:
        return self.status() in _FINAL


_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hpcq-local-primitive")


class LocalJob(_Job):
    """In-process run of the same function the Slurm job runs (one call at a time, like Aer)."""

    def __init__(self, job_id: str, fn, *args):
        super().__init__(job_id)
        self._future: Future = _POOL.submit(fn, *args)

    def result(self, timeout: float | None = None) -> PrimitiveResult:
        try:
            return self._future.result(timeout)
        except TimeoutError:
            raise JobTimeout(f"job {self.job_id()} not done after {timeout} s") from None

    def status(self) -> JobStatus:
        f = self._future
        if f.cancelled():
            return JobStatus.CANCELLED
        if f.running():
            return JobStatus.RUNNING
        if not f.done():
            return JobStatus.QUEUED
        return JobStatus.ERROR if f.exception() is not None else JobStatus.DONE

    def cancel(self) -> bool:
        return self._future.cancel()


class RemoteJob(_Job):
    """One ColonyOS process (``primitive_run``); job_id() is its process id."""

    def __init__(self, job_id: str, client, submission, primitive: str, timeout: float | None = None):
        super().__init__(job_id)
        self._client = client  # hpcq.client.api.Client
        self._sub = submission
        self._primitive = primitive
        self._timeout = timeout
        self._process = None
        self._result: PrimitiveResult | None = None
        self._cancel_requested = False

    def _poll(self):
        p = self._process
        if p is None or not ProcessState(p.state).final:
            self._process = p = self._client.colonies.get_process(self.job_id(), self._client.key)
        return p

    def status(self) -> JobStatus:
        p = self._poll()
        state = _STATUS.get(ProcessState(p.state), JobStatus.INITIALIZING)
        if state == JobStatus.ERROR and self._cancel_requested:
            return JobStatus.CANCELLED  # hpcq's executor fails a cancelled process with the reason
        return state

    def wait(self, timeout: float | None = None):
        """Poll ColonyOS until the process is final (10 ms, growing to 0.5 s between polls)."""
        timeout = self._timeout if timeout is None else timeout
        end = None if timeout is None else time.monotonic() + timeout
        for delay in POLL.delays():
            p = self._poll()
            if ProcessState(p.state).final:
                return p
            if end is not None and time.monotonic() + delay > end:
                raise JobTimeout(f"job {self.job_id()} still {ProcessState(p.state).label} after {timeout} s")
            time.sleep(delay)

    def result(self, timeout: float | None = None) -> PrimitiveResult:
        if self._result is not None:
            return self._result
        p = self.wait(timeout)
        if ProcessState(p.state) != ProcessState.SUCCESS:
            errors = list(p.errors or []) or [f"process ended {ProcessState(p.state).label}"]
            raise PrimitiveJobError(errors[0] + ("\n" + errors[1] if len(errors) > 1 else ""))
        summary = json.loads(p.output[1])
        self._result = decode_result(self._primitive, summary, p.output[0])
        return self._result

    def cancel(self) -> bool:
        """Cancel the ColonyOS process and its Slurm job (hpcq's cancel path)."""
        if self.in_final_state():
            return False
        self._cancel_requested = True
        self._client.cancel(self._sub)
        return True

    @property
    def process(self):
        return self._poll()


def decode_result(primitive: str, summary: dict[str, Any], ref: str = "") -> PrimitiveResult:
    from hpcq.primitives.wire import result_from_json

    result = result_from_json(primitive, summary["result"])
    if ref.endswith(".h5"):
        result.metadata["hpcq_h5"] = ref
    return result
