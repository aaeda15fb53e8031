"""Helpers for the server tests: raw signed requests (for error shapes) next to the real client."""

from __future__ import annotations

import base64
import json

import pytest
import requests


def sign(payload_b64: str, prvkey: str) -> str:
    from crypto import Crypto  # pycolonies' own signer

    return Crypto().sign(payload_b64, prvkey)


def raw_rpc(url: str, msg: dict, prvkey: str, payloadtype: str | None = None):
    """POST one signed envelope; return (http status, reply payloadtype, decoded payload, error)."""
    payload = base64.b64encode(json.dumps(msg).encode()).decode()
    env = {"payloadtype": payloadtype or msg["msgtype"], "payload": payload, "signature": sign(payload, prvkey)}
    return decode(requests.post(url, data=json.dumps(env), timeout=30))


def decode(resp: requests.Response):
    body = resp.json()
    return resp.status_code, body["payloadtype"], json.loads(base64.b64decode(body["payload"])), body["error"]


@pytest.fixture
def srv(colonies_server):
    """colonies_server plus an approved executor "e1" of type "t" (key in srv.e1)."""
    colonies_server.e1 = colonies_server.add_executor("e1", "t")
    return colonies_server
