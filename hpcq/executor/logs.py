"""The jobs' stdout/stderr, for the watcher: forward new lines to ColonyOS logs, and quote the end
of a job's stderr in a failure.

A packed array element runs several processes one after another in one log; the job runner's
``[hpcq] begin process <id>`` markers (hpcq.logfmt) say whose lines follow, so each process gets
only its own lines. The read offset of every file is kept in the journal once its lines were
sent, so a restarted executor does not send them again.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable
from concurrent.futures import Executor as Pool
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from hpcq.executor.backends.base import Backend
from hpcq.executor.journal import Journal
from hpcq.logfmt import BEGIN, END, EXECUTOR_LOG

log = logging.getLogger(EXECUTOR_LOG)

LOG_CHUNK = 16_000  # characters per add_log message
READ_MAX = 1 << 20  # bytes read from one log file per pass


class JobPart(Protocol):
    """One watched process's place in a job (hpcq.executor.watcher.Watched)."""

    process_id: str
    job_id: str
    element: int
    folder: str


@dataclass
class _Tail:
    offset: int
    partial: str = ""
    current: str | None = None


class LogForwarder:
    """New stdout/stderr lines of every watched job -> ``add_log(process_id, text) -> sent``."""

    def __init__(self, journal: Journal, backend: Backend, add_log: Callable[[str, str], bool], pool: Pool):
        self.journal, self.backend, self.add_log, self.pool = journal, backend, add_log, pool
        self._tails: dict[str, _Tail] = {}

    def forward(self, parts: Iterable[JobPart]) -> None:
        by_job: dict[str, list[JobPart]] = {}
        for w in parts:
            by_job.setdefault(w.job_id, []).append(w)
        sends: list[tuple[Path, bool, list[tuple[str, str]]]] = []
        for job_id, ws in by_job.items():
            out_path, err_path = self.backend.log_paths(job_id, Path(ws[0].folder))
            active = {w.process_id for w in ws}
            first = min(ws, key=lambda w: w.element).process_id
            for path, prefix in ((out_path, ""), (err_path, "[stderr] ")):
                lines = self._read_new(path, first)
                per: dict[str, list[str]] = {}
                for pid, line in lines:
                    if pid in active:
                        per.setdefault(pid, []).append(prefix + line)
                sends.append((path, bool(lines), _chunks(per)))
        results = list(self.pool.map(lambda m: self.add_log(*m), [m for _, _, msgs in sends for m in msgs]))
        i = 0
        for path, had_lines, msgs in sends:
            sent_ok = all(results[i : i + len(msgs)])
            i += len(msgs)
            tail = self._tails.get(str(path))
            if tail is not None and had_lines and sent_ok:
                self.journal.set_log_offset(str(path), tail.offset)

    def _read_new(self, path: Path, default_pid: str) -> list[tuple[str, str]]:
        """Complete new lines of ``path`` as (process id, line), markers removed."""
        key = str(path)
        tail = self._tails.get(key)
        if tail is None:
            tail = self._tails[key] = _Tail(offset=self.journal.log_offset(key), current=default_pid)
        try:
            with open(path, "rb") as fh:
                fh.seek(tail.offset)
                data = fh.read(READ_MAX)
        except FileNotFoundError:
            return []
        if not data:
            return []
        tail.offset += len(data)
        text = tail.partial + data.decode("utf-8", errors="replace")
        *complete, tail.partial = text.split("\n")
        out = []
        for line in complete:
            if line.startswith(BEGIN):
                tail.current = line[len(BEGIN) :].strip()
                continue
            if line.startswith(END):
                continue
            out.append((tail.current or default_pid, line))
        return out


def _chunks(per: dict[str, list[str]]) -> list[tuple[str, str]]:
    """Each process's lines as add_log messages of at most LOG_CHUNK characters."""
    return [
        (pid, text[i : i + LOG_CHUNK])
        for pid, pl in per.items()
        for text in ["\n".join(pl)]
        for i in range(0, len(text), LOG_CHUNK)
    ]


def other_ranks_stderr(backend: Backend, w: JobPart) -> str:
    """The ends of the other tasks' stderr files (rank N > 0 of an MPI job writes its own)."""
    _, err = backend.log_paths(w.job_id, Path(w.folder))
    texts = []
    for path in sorted(Path(err).parent.glob(f"{w.job_id}_*_log.err")):
        if path != Path(err):
            with contextlib.suppress(OSError):
                texts.append(path.read_bytes()[-8_000:].decode("utf-8", errors="replace"))
    return "\n".join(texts)


def stderr_tail(backend: Backend, w: JobPart, lines_max: int, whole: bool = False) -> str:
    """The last ``lines_max`` stderr lines of this process's part of its job (``whole``: the
    whole end of the file, every process's part)."""
    _, err = backend.log_paths(w.job_id, Path(w.folder))
    try:
        with open(err, "rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - 64_000))
            lines = fh.read().decode("utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return ""
    if whole:
        return "\n".join(lines)
    # only this process's part of a packed element
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].startswith(BEGIN + w.process_id):
            lines = lines[i + 1 :]
            break
    lines = [ln for ln in lines if not ln.startswith(END)]
    return "\n".join(lines[-lines_max:])
