"""File metadata and snapshots (the blobs live in S3; only references are stored)."""

from __future__ import annotations

import sqlite3
from typing import Any

from hpcq.server.auth import require_member
from hpcq.server.context import Ctx
from hpcq.server.store import dumps
from hpcq.server.wire import bad, field, gotime, nonempty, notfound, now_ns, random_id


def _label(value: Any) -> str:
    if value is None:
        return "/"
    if not isinstance(value, str):
        raise bad("failed to parse msg: field 'label' must be a string")
    return "/" + value.strip("/")


def _render_file(f: dict) -> dict:
    return dict(f, added=gotime(f["added"]))


def add_file(ctx: Ctx, caller: str, msg: dict) -> dict:
    f = field(msg, "file", dict, required=True)
    colonyname = field(f, "colonyname", str, "")
    require_member(ctx, caller, colonyname)
    name = nonempty(f, "name", "file", "name the file")
    if "/" in name or "\\" in name or name in (".", "..") or "\0" in name:
        raise bad(f"file.name {name!r} is not a plain file name: drop directories (use file.label for them)")
    ref = f.get("ref")
    if not isinstance(ref, dict) or not isinstance(ref.get("s3object"), dict):
        raise bad("file.ref.s3object is missing: a file reference needs protocol and s3object")
    s3 = ref["s3object"]
    s3doc = {
        "server": field(s3, "server", str, ""),
        "port": field(s3, "port", int, 0),
        "tls": field(s3, "tls", bool, False),
        "accesskey": field(s3, "accesskey", str, ""),
        "secretkey": field(s3, "secretkey", str, ""),
        "region": field(s3, "region", str, ""),
        "encryptionkey": field(s3, "encryptionkey", str, ""),
        "encryptionalg": field(s3, "encryptionalg", str, ""),
        "object": field(s3, "object", str, ""),
        "bucket": field(s3, "bucket", str, ""),
    }
    doc = {
        "fileid": random_id(),
        "colonyname": colonyname,
        "label": _label(f.get("label")),
        "name": name,
        "size": field(f, "size", int, 0),
        "sequencenr": ctx.store.next_seq("file"),
        "checksum": field(f, "checksum", str, ""),
        "checksumalg": field(f, "checksumalg", str, ""),
        "ref": {"protocol": field(ref, "protocol", str, ""), "s3object": s3doc},
        "added": now_ns(),
    }
    ctx.store.db.execute(
        "INSERT INTO files (fileid, colonyname, label, name, sequencenr, doc) VALUES (?,?,?,?,?,?)",
        (doc["fileid"], colonyname, doc["label"], name, doc["sequencenr"], dumps(doc)),
    )
    return _render_file(doc)


def _find_files(ctx: Ctx, msg: dict) -> list[dict]:
    colonyname = field(msg, "colonyname", str, "")
    fileid = field(msg, "fileid", str, "")
    if fileid:
        return ctx.store.all("SELECT doc FROM files WHERE fileid=? AND colonyname=?", fileid, colonyname)
    return ctx.store.all(
        "SELECT doc FROM files WHERE colonyname=? AND label=? AND name=? ORDER BY sequencenr DESC",
        colonyname,
        _label(msg.get("label")),
        field(msg, "name", str, ""),
    )


def get_file(ctx: Ctx, caller: str, msg: dict) -> list:
    require_member(ctx, caller, field(msg, "colonyname", str, ""))
    files = _find_files(ctx, msg)
    if not files:
        raise notfound("File not found")
    if field(msg, "latest", bool, False):
        files = files[:1]
    return [_render_file(f) for f in files]


def _latest_under(ctx: Ctx, colonyname: str, label: str, sublabels: bool) -> list[dict]:
    rows = ctx.store.all("SELECT doc FROM files WHERE colonyname=? ORDER BY sequencenr DESC", colonyname)
    seen, out = set(), []
    for f in rows:
        inside = f["label"] == label or (sublabels and f["label"].startswith(label.rstrip("/") + "/"))
        if inside and (f["label"], f["name"]) not in seen:
            seen.add((f["label"], f["name"]))
            out.append(f)
    return out


def get_files(ctx: Ctx, caller: str, msg: dict) -> list | None:
    colonyname = field(msg, "colonyname", str, "")
    require_member(ctx, caller, colonyname)
    files = _latest_under(ctx, colonyname, _label(msg.get("label")), sublabels=False)
    return [
        {"name": f["name"], "checksum": f["checksum"], "size": f["size"], "s3filename": f["ref"]["s3object"]["object"]}
        for f in files
    ] or None


def get_file_labels(ctx: Ctx, caller: str, msg: dict) -> list | None:
    colonyname = field(msg, "colonyname", str, "")
    require_member(ctx, caller, colonyname)
    name = field(msg, "name", str, "")
    exact = field(msg, "exact", bool, False)
    counts: dict[str, set] = {}
    for row in ctx.store.db.execute("SELECT label, name FROM files WHERE colonyname=?", (colonyname,)):
        counts.setdefault(row["label"], set()).add(row["name"])
    out = []
    for label in sorted(counts):
        if name:
            want = _label(name)
            if exact and label != want:
                continue
            if not exact and not (label == want or label.startswith(want.rstrip("/") + "/")):
                continue
        out.append({"name": label, "files": len(counts[label])})
    return out or None


def remove_file(ctx: Ctx, caller: str, msg: dict) -> dict:
    colonyname = field(msg, "colonyname", str, "")
    require_member(ctx, caller, colonyname)
    files = _find_files(ctx, msg)
    if not files:
        raise notfound("File not found")
    for f in files:
        ctx.store.db.execute("DELETE FROM files WHERE fileid=?", (f["fileid"],))
    return {}


def _render_snapshot(s: dict) -> dict:
    return dict(s, added=gotime(s["added"]))


def create_snapshot(ctx: Ctx, caller: str, msg: dict) -> dict:
    colonyname = field(msg, "colonyname", str, "")
    require_member(ctx, caller, colonyname)
    name = field(msg, "name", str, "")
    if not name:
        raise bad("snapshot name is empty: name the snapshot")
    label = _label(msg.get("label"))
    files = _latest_under(ctx, colonyname, label, sublabels=True)
    doc = {
        "snapshotid": random_id(),
        "colonyname": colonyname,
        "label": label,
        "name": name,
        "fileids": [f["fileid"] for f in files],
        "added": now_ns(),
    }
    try:
        ctx.store.db.execute(
            "INSERT INTO snapshots (snapshotid, colonyname, name, doc) VALUES (?,?,?,?)",
            (doc["snapshotid"], colonyname, name, dumps(doc)),
        )
    except sqlite3.IntegrityError:
        raise bad(f"A snapshot with name <{name}> already exists in colony <{colonyname}>") from None
    return _render_snapshot(doc)


def get_snapshot(ctx: Ctx, caller: str, msg: dict) -> dict:
    colonyname = field(msg, "colonyname", str, "")
    require_member(ctx, caller, colonyname)
    sid = field(msg, "snapshotid", str, "")
    name = field(msg, "name", str, "")
    if sid:
        s = ctx.store.one("SELECT doc FROM snapshots WHERE snapshotid=? AND colonyname=?", sid, colonyname)
    else:
        s = ctx.store.one("SELECT doc FROM snapshots WHERE name=? AND colonyname=?", name, colonyname)
    if s is None:
        raise notfound("Snapshot not found")
    return _render_snapshot(s)


def get_snapshots(ctx: Ctx, caller: str, msg: dict) -> list | None:
    colonyname = field(msg, "colonyname", str, "")
    require_member(ctx, caller, colonyname)
    return [
        _render_snapshot(s)
        for s in ctx.store.all("SELECT doc FROM snapshots WHERE colonyname=? ORDER BY rowid", colonyname)
    ] or None


def remove_snapshot(ctx: Ctx, caller: str, msg: dict) -> dict:
    colonyname = field(msg, "colonyname", str, "")
    require_member(ctx, caller, colonyname)
    sid = field(msg, "snapshotid", str, "")
    name = field(msg, "name", str, "")
    cur = ctx.store.db.execute(
        "DELETE FROM snapshots WHERE colonyname=? AND (snapshotid=? OR (?='' AND name=?))", (colonyname, sid, sid, name)
    )
    if cur.rowcount == 0:
        raise notfound("Snapshot not found")
    return {}
