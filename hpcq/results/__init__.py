"""hpcq results: HDF5 format v2 (h5format), catalog, ranking, workflow graph.

Knows nothing of Qiskit (an import-linter contract): the worker holds the format's Qiskit side
(hpcq.worker.taskfile, hpcq.worker.provenance), so the catalog and the dashboard run without it.

``hpcq.results.open(path)`` -> pandas DataFrame, one row per task (see docs/results-format.md).
"""

from __future__ import annotations

from pathlib import Path


def open(path: str | Path):  # noqa: A001 - the documented public name
    """Read a result file's task attributes and metrics into a DataFrame (no datasets read)."""
    from hpcq.results.h5format import open_results

    return open_results(path)


def read_summary(path: str | Path) -> dict:
    from hpcq.results.h5format import read_summary as _rs

    return _rs(path)


def validate(path: str | Path) -> list[str]:
    from hpcq.results.h5format import validate as _v

    return _v(path)


__all__ = ["open", "read_summary", "validate"]
