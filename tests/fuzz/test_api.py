"""Fuzz the embedded server's /api with raw envelopes (requests, not pycolonies): random bodies,
random payload types, undecodable payloads, bad signatures and *validly signed* random messages
(so the handlers, not only the signature check, see hostile fields). The server must answer every
one with a Colonies error envelope (never 5xx), stay up, and keep a consistent database.
"""

from __future__ import annotations

import base64
import json
import sqlite3

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from hpcq.server.handlers import HANDLERS
from tests.fuzz.strategies import CI_EXAMPLES, FUZZ, LONG_EXAMPLES, json_val, text

MSGTYPES = sorted(HANDLERS) + ["assignprocessmsg", "versionmsg", "getserverinfomsg", "nosuchmsg", ""]
FIELDS = [
    "colonyname",
    "processid",
    "executorname",
    "name",
    "label",
    "count",
    "state",
    "timeout",
    "out",
    "errors",
    "spec",
    "executor",
    "colony",
    "user",
    "attribute",
    "file",
    "fun",
    "processgraphid",
    "message",
    "since",
    "fileid",
    "attributeid",
    "snapshotid",
    "insert",
    "parentprocessid",
]

ident_vals = st.one_of(json_val, st.sampled_from(["dev", "", "../../etc", "x" * 10_000, -1, 2**63, None]))
message = st.builds(
    lambda mt, d, drop: ({} if drop else {"msgtype": mt}) | d,
    st.sampled_from(MSGTYPES),
    st.dictionaries(st.sampled_from(FIELDS), ident_vals, max_size=6),
    st.booleans(),
)


def _b64(obj) -> str:
    return base64.b64encode(json.dumps(obj).encode()).decode()


def _sign(payload: str, prv: str) -> str:
    from crypto import Crypto  # pycolonies' module

    return Crypto().sign(payload, prv)


envelope = st.one_of(
    # validly signed random message: goes past the signature check into the handlers
    st.builds(lambda m, k: ("signed", m, k), message, st.sampled_from(["user", "colony", "server"])),
    # garbage in every slot
    st.builds(
        lambda pt, pl, sig: ("raw", {"payloadtype": pt, "payload": pl, "signature": sig}),
        st.one_of(st.sampled_from(MSGTYPES), json_val),
        st.one_of(text, json_val, message.map(_b64)),
        st.one_of(st.text(alphabet="0123456789abcdef", min_size=130, max_size=130), text, json_val),
    ),
    st.builds(lambda b: ("bytes", b), st.binary(max_size=300)),
    st.builds(lambda j: ("json", j), json_val),
)


def _post(server, item) -> requests.Response:
    url = server.handle.url
    keys = {"user": server.user_prvkey, "colony": server.colony_prvkey, "server": server.server_prvkey}
    kind = item[0]
    if kind == "signed":
        _, msg, who = item
        payload = _b64(msg)
        body = json.dumps(
            {"payloadtype": msg.get("msgtype", ""), "payload": payload, "signature": _sign(payload, keys[who])}
        )
        return requests.post(url, data=body, timeout=30)
    if kind == "raw":
        return requests.post(url, data=json.dumps(item[1]), timeout=30)
    if kind == "bytes":
        return requests.post(url, data=item[1], timeout=30)
    return requests.post(url, data=json.dumps(item[1]), timeout=30)


def _check_reply(r: requests.Response, item) -> None:
    assert r.status_code < 500, f"{r.status_code} for {item!r}: {r.text[:500]}"
    if r.status_code >= 400:
        reply = r.json()
        assert reply["error"] is True and reply["payloadtype"] == "error"
        err = json.loads(base64.b64decode(reply["payload"]))
        assert err["status"] == r.status_code and err["message"]


def _db_consistent(server) -> None:
    db = sqlite3.connect(f"file:{server.handle.data_dir / 'colonies.db'}?mode=ro", uri=True)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        for (doc,) in db.execute("SELECT doc FROM processes"):
            p = json.loads(doc)  # every stored process still renders as a process
            assert p["state"] in (0, 1, 2, 3) and isinstance(p["spec"]["funcname"], str)
    finally:
        db.close()


def _run(server, n) -> dict[int, int]:
    statuses: dict[int, int] = {}

    @settings(FUZZ, max_examples=n)
    @given(envelope)
    def prop(item):
        r = _post(server, item)
        _check_reply(r, item)
        statuses[r.status_code] = statuses.get(r.status_code, 0) + 1

    prop()
    assert server.handle.alive(), "the server died"
    assert requests.get(server.handle.base_url + "/health", timeout=5).status_code == 200
    _db_consistent(server)
    # still serves the unmodified client (the fuzz may have removed colony "dev": list with the server key)
    assert isinstance(server.client().list_colonies(server.server_prvkey), (list, type(None)))
    return statuses


def test_fuzz_api(colonies_server):
    statuses = _run(colonies_server, CI_EXAMPLES)
    assert any(s >= 400 for s in statuses) and sum(statuses.values()) >= min(CI_EXAMPLES, 50), statuses


@pytest.mark.slow
def test_fuzz_api_long(colonies_server):
    statuses = _run(colonies_server, LONG_EXAMPLES)
    print(f"api fuzz: {sum(statuses.values())} envelopes, HTTP statuses {statuses}")
