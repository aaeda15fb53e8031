"""Result files in ColonyOS file storage: what is downloadable, and downloads that prove their bytes.

A process's files are registered under ``file_label(colony, pid)`` either as an S3 object
(pycolonies' ``upload_file``: bucket and server set) or as a shared-filesystem reference (hpcq's
``add_file_ref``: bucket and server empty, ``s3object.object`` = the absolute path). The real colonies
server reads every file back with ``protocol: "s3"`` (docs/server.md), so the protocol field cannot
tell them apart; the bucket can. Every download is checked against the SHA-256 ColonyOS holds: a
file that arrives different is deleted and refused, never used.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from hpcq.colonyos import file_label

CHUNK = 1 << 20


class FileTransferError(RuntimeError):
    """A file could not be brought here, or arrived with other bytes than ColonyOS registered."""


@dataclass
class Transfer:
    """One file brought from ColonyOS storage (or checked in place on a shared filesystem)."""

    process_id: str  # the process that registered it
    name: str
    path: str  # where it is now, here
    source: str  # s3://bucket/object, or file:///path for a shared-filesystem reference
    bytes: int
    sha256: str
    seconds: float

    def record(self) -> dict[str, Any]:
        return asdict(self)


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def in_object_store(meta: dict[str, Any]) -> bool:
    """True for an S3 upload; False for a shared-filesystem reference (no bucket, no server)."""
    obj = (meta.get("ref") or {}).get("s3object") or {}
    return bool(obj.get("bucket")) and bool(obj.get("server"))


def source_of(meta: dict[str, Any]) -> str:
    obj = (meta.get("ref") or {}).get("s3object") or {}
    if in_object_store(meta):
        return f"s3://{obj.get('bucket')}/{obj.get('object')}"
    return f"file://{obj.get('object', '')}"


def process_files(client: Any, colony: str, prvkey: str, process_id: str) -> list[dict[str, Any]]:
    """The full record (ref, checksum) of each file a process registered, newest registration of
    each name: ``getfilesmsg`` lists names and checksums only, ``getfilemsg`` has the ref."""
    label = file_label(colony, process_id)
    out = []
    for item in client.get_files(label, colony, prvkey) or []:
        meta = client.get_file(colony, prvkey, label=label, filename=item["name"], latest=True)
        if meta:
            out.append(meta[0])
    return out


def _verified(path: Path, meta: dict[str, Any], what: str) -> str:
    want = str(meta.get("checksum") or "")
    got = sha256_file(path)
    if want and got != want:
        raise FileTransferError(
            f"{what}: SHA-256 {got[:16]}… differs from the {want[:16]}… ColonyOS registered; the copy is "
            "refused (re-run the parent step, or check the object store for a replaced object)"
        )
    return got


def fetch(client: Any, colony: str, prvkey: str, process_id: str, meta: dict[str, Any], dest: Path) -> Transfer:
    """Bring one registered file of ``process_id`` into ``dest`` (S3 download through pycolonies),
    or check a shared-filesystem reference in place; either way its SHA-256 must match."""
    name = str(meta.get("name") or "")
    what = f"file {name!r} of process {process_id}"
    t0 = time.monotonic()
    if not in_object_store(meta):
        path = Path(((meta.get("ref") or {}).get("s3object") or {}).get("object") or "")
        if not path.is_file():
            raise FileTransferError(
                f"{what} is only on the filesystem of the site that ran it ({path}) and was not uploaded: "
                "configure S3 (every AWS_S3_* variable) on that site's executor so results go to ColonyOS "
                "file storage, or share the filesystem between the sites"
            )
        digest = _verified(path, meta, what)
        return Transfer(process_id, name, str(path), source_of(meta), path.stat().st_size, digest, 0.0)
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / name
    try:
        client.download_file(colony, prvkey, dst=str(dest), label=file_label(colony, process_id), filename=name)
    except Exception as exc:  # noqa: BLE001 - boto3 and pycolonies raise many kinds
        target.unlink(missing_ok=True)
        raise FileTransferError(
            f"{what}: download from {source_of(meta)} failed ({type(exc).__name__}: {str(exc)[:200]}); check "
            "AWS_S3_* (endpoint, keys) on this side: the object store must be reachable from every site"
        ) from None
    try:
        digest = _verified(target, meta, what)
    except FileTransferError:
        target.unlink(missing_ok=True)
        raise
    return Transfer(
        process_id, name, str(target), source_of(meta), target.stat().st_size, digest, time.monotonic() - t0
    )
