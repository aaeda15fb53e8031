"""Primitive results as hpcq HDF5 (with provenance), so they join the catalog and dashboard."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def write_primitive_h5(params, result: dict[str, Any], ctx) -> Path:
    raise NotImplementedError("h5=True: writing primitive results as HDF5 is not implemented yet")
