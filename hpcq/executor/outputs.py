"""A finished job's outputs as ColonyOS keeps them: the close output, attributes, result files.

Outputs: a SUCCESS close carries ``[result_ref, summary_json]`` (strings: pycolonies' Process
model only accepts str/int/float outputs). ``result_ref`` is the first result file, or the
process's work directory when the function wrote none.

Files, one ColonyFS entry per result file under label ``/hpcq/<colony>/<processid>``:
- with S3 configured (every AWS_S3_* variable pycolonies reads is set) the file is uploaded with
  pycolonies' own ``upload_file`` (blob in S3, metadata in ColonyOS);
- otherwise the file stays on the shared filesystem and only its metadata is registered: a file
  whose ``ref.protocol`` is ``"file"`` and whose ``ref.s3object.object`` is the absolute path
  (bucket/server empty), with its SHA-256 and size. pycolonies has no call for that; the seam adds
  one (:meth:`hpcq.colonyos.rpc.Colonies.add_file_ref`).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hpcq.colonyos import file_label
from hpcq.colonyos.files import sha256_file
from hpcq.config import S3_VARS as S3_REQUIRED  # what pycolonies' file upload reads: all must be set


def s3_configured(env: Mapping[str, str] | None = None) -> bool:
    values = os.environ if env is None else env
    return all(values.get(k) for k in S3_REQUIRED)


def file_ref(colony: str, label: str, path: str | Path) -> dict[str, Any]:
    """The ColonyFS file for a shared-filesystem file (metadata only; the bytes stay in place)."""
    path = Path(path).resolve()
    return {
        "fileid": "",
        "colonyname": colony,
        "label": label,
        "name": path.name,
        "size": path.stat().st_size,
        "sequencenr": 1,
        "checksum": sha256_file(path),
        "checksumalg": "SHA256",
        "ref": {
            "protocol": "file",
            "s3object": {
                "server": "",
                "port": 0,
                "tls": False,
                "accesskey": "",
                "secretkey": "",
                "region": "",
                "encryptionkey": "",
                "encryptionalg": "",
                "object": str(path),
                "bucket": "",
            },
        },
    }


def register_files(client, prvkey: str, colony: str, process_id: str, files: list[str]) -> list[dict]:
    """Register every existing result file; returns what ColonyOS stored (one dict per file)."""
    label = file_label(colony, process_id)
    stored = []
    for f in files:
        if not Path(f).is_file():
            continue
        if s3_configured():
            stored.append(client.upload_file(colony, prvkey, filepath=str(f), label=label))
        else:
            stored.append(client.add_file_ref(file_ref(colony, label, f), prvkey))
    return stored


def result_ref(files: list[str], workdir: str) -> str:
    return str(files[0]) if files else str(workdir)


def success_output(files: list[str], workdir: str, summary: dict[str, Any]) -> list[str]:
    return [result_ref(files, workdir), json.dumps(summary, sort_keys=True, default=str)]


def add_attributes(client, prvkey: str, process_id: str, attrs: dict[str, Any]) -> None:
    """ColonyOS keeps one value per key and process; a key that already exists is skipped."""
    for key, value in attrs.items():
        with contextlib.suppress(Exception):  # attributes are best effort; the close is what counts
            client.add_attribute(process_id, key, str(value), prvkey)
