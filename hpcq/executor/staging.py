"""Inputs from other sites: a workflow step's parent files, brought here before its job is queued.

A child's ``in`` holds its parents' outputs: ``[result_ref, summary_json]`` each, with absolute
paths of the files the parent wrote under *its* executor's results directory. A path under this
executor's own results directory is local (same site, shared filesystem). Any other path is
another site's: its file is fetched from ColonyOS file storage (hpcq.colonyos.files: S3 download,
SHA-256 checked) into ``<work dir>/inputs/<parent process id>/``, or used in place when it is a
shared-filesystem reference this machine can read (and its checksum matches), and the inputs are
rewritten to point at the copy. The login node does this, not the job: compute nodes often have
no route to an object store. Every transfer is recorded (``Transfer.record``) and goes into the
result file's provenance as ``inputs_from``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hpcq.colonyos.files import FileTransferError, Transfer, fetch, process_files

__all__ = ["FileTransferError", "stage_inputs"]
_PROCESS_ID = re.compile(r"[0-9a-f]{64}")  # ColonyOS process ids: 64 hex digits


def _paths_in(inputs: list[Any]) -> list[str]:
    """Absolute paths named by the inputs: bare strings and string values of JSON summaries."""
    found: list[str] = []

    def walk(v: Any) -> None:
        if isinstance(v, str) and v.startswith("/"):
            found.append(v)
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)

    for item in inputs:
        if isinstance(item, str) and item.startswith("{"):
            try:
                walk(json.loads(item))
            except json.JSONDecodeError:
                continue
        else:
            walk(item)
    return found


def _rewrite(inputs: list[Any], moved: dict[str, str]) -> list[Any]:
    def sub(v: Any) -> Any:
        if isinstance(v, str):
            return moved.get(v, v)
        if isinstance(v, dict):
            return {k: sub(x) for k, x in v.items()}
        if isinstance(v, list):
            return [sub(x) for x in v]
        return v

    out: list[Any] = []
    for item in inputs:
        if isinstance(item, str) and item.startswith("{"):
            try:
                out.append(json.dumps(sub(json.loads(item)), sort_keys=True))
                continue
            except json.JSONDecodeError:
                pass
        out.append(sub(item))
    return out


def _is_local(path: str, local_roots: list[Path]) -> bool:
    p = Path(path)
    return any(p == root or root in p.parents for root in local_roots)


def _candidates(path: str, parents: list[str]) -> list[str]:
    """Processes that may have registered ``path``, most likely first: the process ids in the path,
    innermost first (a step that passes a file on, as the ansatz step passes the Hamiltonian, names
    its own staged copy ``<its id>/inputs/<origin id>/<name>``: the origin registered it), then the
    parents."""
    ids = [part for part in reversed(Path(path).parts) if _PROCESS_ID.fullmatch(part)]
    return list(dict.fromkeys([*ids, *parents]))


def stage_inputs(
    client: Any,
    colony: str,
    prvkey: str,
    process: Any,
    dest: Path,
    local_roots: list[Path],
    log: Callable[[str], None] = lambda _m: None,
) -> tuple[list[Any], list[dict[str, Any]]]:
    """(inputs rewritten to local copies, one transfer record per file brought here). Raises
    FileTransferError naming the parent, the file and the fix when a file cannot be had."""
    inputs = list(process.input or [])
    foreign = sorted({p for p in _paths_in(inputs) if not _is_local(p, local_roots)})
    if not foreign:
        return inputs, []
    parents = list(getattr(process, "parents", None) or [])
    registered: dict[str, dict[str, dict[str, Any]]] = {}  # process -> name -> its newest registration

    def files_of(pid: str) -> dict[str, dict[str, Any]]:
        if pid not in registered:
            registered[pid] = {str(m.get("name")): m for m in process_files(client, colony, prvkey, pid)}
        return registered[pid]

    moved: dict[str, str] = {}
    records: list[dict[str, Any]] = []
    for path in foreign:
        if Path(path).name in parents or (_PROCESS_ID.fullmatch(Path(path).name) and not Path(path).suffix):
            continue  # a step's work directory (its result_ref when it wrote no file): nothing to move
        owner = next((pid for pid in _candidates(path, parents) if Path(path).name in files_of(pid)), None)
        if owner is None:
            raise FileTransferError(
                f"input {path} names no file a parent registered in ColonyOS (parents: "
                f"{', '.join(parents) or 'none'}); the parent step must register its files (an hpcq executor does)"
            )
        t: Transfer = fetch(client, colony, prvkey, owner, files_of(owner)[Path(path).name], dest / owner)
        moved[path] = t.path
        records.append(t.record())
        log(f"input {t.name} of process {owner}: {t.bytes} B from {t.source} in {t.seconds:.2f} s (sha256 ok)")
    return _rewrite(inputs, moved), records
