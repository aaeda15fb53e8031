"""Diagnostic catalog functions (hpcq_echo, hpcq_sleep, hpcq_fail) and `hpcq executor selftest`.

They run inside the Slurm job like any catalogued function, so they prove the whole path
ColonyOS -> executor -> Slurm -> ColonyOS without Qiskit. Kept import-light on purpose.
"""

from __future__ import annotations

import time
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from hpcq.functions import FunctionResult, JobContext


class EchoParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    message: str = Field("hello from hpcq", max_length=10_000)
    write_file: bool = Field(False, description="also write echo.txt (tests result-file registration)")


class SleepParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seconds: float = Field(1.0, ge=0, le=7 * 24 * 3600)


class FailParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    message: str = Field("hpcq_fail was asked to fail", max_length=10_000)


def echo(kwargs: dict, ctx: JobContext) -> FunctionResult | None:
    """Return the message plus where it ran (rank 0 only, per the catalog contract)."""
    if ctx.rank != 0:
        return None
    print(f"hpcq_echo: {kwargs.get('message', '')}", flush=True)
    files = []
    if kwargs.get("write_file"):
        path = Path(ctx.workdir) / "echo.txt"
        path.write_text(kwargs.get("message", "") + "\n")
        files.append(str(path))
    return FunctionResult(
        summary={
            "message": kwargs.get("message", ""),
            "slurm_job_id": ctx.slurm_job_id,
            "nodes": ctx.nodes,
            "ranks": ctx.size,
            "threads": ctx.threads,
        },
        files=files,
    )


def sleep(kwargs: dict, ctx: JobContext) -> FunctionResult | None:
    """Sleep, printing a heartbeat every second (lets tests watch log streaming and time limits)."""
    seconds = float(kwargs.get("seconds", 1.0))
    end = time.monotonic() + seconds
    tick = 0
    while (left := end - time.monotonic()) > 0:
        print(f"hpcq_sleep: tick {tick}", flush=True)
        tick += 1
        time.sleep(min(1.0, left))
    return FunctionResult(summary={"slept_s": seconds}) if ctx.rank == 0 else None


def fail(kwargs: dict, ctx: JobContext) -> FunctionResult | None:
    raise RuntimeError(kwargs.get("message", "hpcq_fail was asked to fail"))
