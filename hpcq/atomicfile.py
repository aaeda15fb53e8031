"""The one atomic file write: readers see the old file or the whole new one, never half of it.

Standard library only (the job side and the server import it)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(
    path: str | os.PathLike, data: bytes | str, mode: int = 0o644, durable: bool = True, mkdir: bool = True
) -> Path:
    """Write ``data`` to a hidden temporary file in ``path``'s directory, then rename it over ``path``.

    ``mode`` is set before the first byte (0o600 keeps a key file private from the start);
    ``durable`` fsyncs the file and the directory so a crash after the return keeps the file.
    ``mkdir=False`` fails when the directory is gone (a retired session inbox must stay gone).
    A failed write (full or read-only disk) raises the OSError and leaves nothing behind."""
    path = Path(path)
    if mkdir:
        path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode() if isinstance(data, str) else data)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    if durable:
        _fsync_dir(path.parent)
    return path


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
