"""Process channels (colonies v1.9.7): append-only message logs named in ``spec.channels``,
written and read by the process's submitter and its assigned executor.

As on the real server they live in memory only (lost on restart) and end with the process: a
channel of a SUCCESS/FAILED/CANCELLED process is "not found". ``afterseq`` of a read is an index
into the log (the real router's ReadAfter), not a sequence number."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from hpcq.colonyos import ProcessState as S
from hpcq.server import procs as pr
from hpcq.server.auth import require_member
from hpcq.server.context import Ctx
from hpcq.server.wire import RPCError, bad, field, forbidden, gotime, notfound, now_ns

MAX_MESSAGE = 10 * 1024 * 1024  # CHANNEL_MAX_MESSAGE_SIZE
MAX_ENTRIES = 10_000  # CHANNEL_MAX_LOG_ENTRIES


def _logs(ctx: Ctx) -> dict[tuple[str, str], list[dict]]:
    return ctx.extra.setdefault("channels", {})


def open_channel(ctx: Ctx, caller: str, msg: dict, verb: str) -> tuple[dict, list[dict]]:
    """-> (process, log) after the real checks: process exists, caller is a member, the
    channel is declared and the process still open, caller is its submitter or executor."""
    pid = msg.get("processid")
    try:
        p = pr.load(ctx, pid)
    except RPCError:
        raise notfound("Process not found") from None
    require_member(ctx, caller, p["spec"]["conditions"]["colonyname"])
    name = field(msg, "name", str, "")
    logs = _logs(ctx)
    if S(p["state"]).final or name not in (p["spec"].get("channels") or []):
        logs.pop((p["processid"], name), None)
        raise notfound("Channel not found")
    if caller not in (p["initiatorid"], p["assignedexecutorid"]):
        raise forbidden(f"Not authorized to {verb} channel")
    return p, logs.setdefault((p["processid"], name), [])


def _payload(v: Any) -> bytes:
    """pycolonies sends a list of byte values; Go clients send []byte as base64."""
    if v is None:
        return b""
    if isinstance(v, str):
        try:
            return base64.b64decode(v, validate=True)
        except (binascii.Error, ValueError):
            raise bad("failed to parse msg: field 'payload' is not base64") from None
    if isinstance(v, list) and all(isinstance(b, int) and not isinstance(b, bool) and 0 <= b < 256 for b in v):
        return bytes(v)
    raise bad("failed to parse msg: field 'payload' must be bytes (an array of 0..255 or base64)")


def append(ctx: Ctx, caller: str, msg: dict) -> dict:
    _, log = open_channel(ctx, caller, msg, "write to")
    data = _payload(msg.get("payload"))
    if len(data) > MAX_MESSAGE:
        raise bad(f"message of {len(data)} bytes exceeds the channel limit of {MAX_MESSAGE} bytes")
    if len(log) >= MAX_ENTRIES:
        raise RPCError(500, f"channel is full ({MAX_ENTRIES} entries)")
    entry = {
        "sequence": field(msg, "sequence", int, 0),
        "inreplyto": field(msg, "inreplyto", int, 0),
        "timestamp": now_ns(),
        "senderid": caller,
        "payload": data,
        "type": field(msg, "payloadtype", str, "") or "data",
    }
    log.append(entry)
    i = len(log) - 1  # the router's order: by sequence within one sender, else by arrival
    while i > 0 and log[i - 1]["senderid"] == caller and log[i - 1]["sequence"] > entry["sequence"]:
        log[i - 1], log[i] = log[i], log[i - 1]
        i -= 1
    ctx.store.cond.notify_all()  # wake websocket subscribers
    return {}


def render_entry(e: dict) -> dict:
    out = {
        "sequence": e["sequence"],
        "timestamp": gotime(e["timestamp"]),
        "senderid": e["senderid"],
        "payload": base64.b64encode(e["payload"]).decode(),
        "type": e["type"],
    }
    if e["inreplyto"]:
        out["inreplyto"] = e["inreplyto"]
    return out


def read_after(log: list[dict], after: int, limit: int = 0) -> list[dict]:
    start = max(after, 0)
    end = len(log) if limit <= 0 else min(len(log), start + limit)
    return [render_entry(e) for e in log[start:end]]


def read(ctx: Ctx, caller: str, msg: dict) -> list:
    _, log = open_channel(ctx, caller, msg, "read from")
    return read_after(log, field(msg, "afterseq", int, 0), field(msg, "limit", int, 0))


def drop_closed(ctx: Ctx) -> None:
    """Forget the logs of processes that finished or were removed (the router's cleanup)."""
    logs = _logs(ctx)
    for key in list(logs):
        p = ctx.store.get_process(key[0])
        if p is None or S(p["state"]).final:
            logs.pop(key, None)
