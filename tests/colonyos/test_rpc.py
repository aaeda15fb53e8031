"""The one seam to pycolonies (hpcq.colonyos.rpc): pinned to the pycolonies release it reproduces.

A pycolonies upgrade fails here first, by name: the version, the signature of the private method
the seam overrides, the methods that reach the server through it, and the envelope and errors,
compared with pycolonies' own for the same message and key.
"""

from __future__ import annotations

import base64
import configparser
import importlib.metadata
import inspect
import json
import re
from pathlib import Path

import pycolonies
import pytest

from hpcq.colonyos import rpc

ROOT = Path(__file__).resolve().parents[2]
KEY = "fcc79953d8a751bf41db661592dc34d30004b1a651ffa0725b03ac227641499d"  # colonies' public dev key

# pycolonies calls hpcq makes (client, executor, tests): each must send through Colonies.__rpc
USED = [
    "add_attribute", "add_executor", "add_function", "add_log", "approve_executor", "assign", "close", "fail",
    "get_executor", "get_files", "get_functions_by_executor", "get_process", "get_process_log", "get_processgraph",
    "list_processes", "remove_process", "remove_processgraph", "stats", "submit_func_spec", "submit_workflow",
]  # fmt: skip


def test_pycolonies_is_the_pinned_version():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    pins = {p for extra in cfg["options.extras_require"].values() for p in re.findall(r"pycolonies==(\S+)", extra)}
    assert pins == {rpc.PYCOLONIES_VERSION}, (
        f"setup.cfg pins {pins}, hpcq.colonyos.rpc reproduces {rpc.PYCOLONIES_VERSION}"
    )
    assert importlib.metadata.version("pycolonies") == rpc.PYCOLONIES_VERSION


def test_the_seam_overrides_only_the_rpc_method():
    base = pycolonies.Colonies
    rpc_method = base.__dict__.get("_Colonies__rpc")
    assert rpc_method is not None, "pycolonies' Colonies has no __rpc: hpcq.colonyos.rpc needs rewriting"
    assert list(inspect.signature(rpc_method).parameters) == ["self", "msg", "prvkey"]
    assert list(inspect.signature(rpc.Colonies._Colonies__rpc).parameters) == ["self", "msg", "prvkey"]
    own = {n for n in vars(rpc.Colonies) if not n.startswith("__")}
    assert own & set(vars(base)) == {"_Colonies__rpc"}  # overrides nothing else of pycolonies'
    assert own - {"_Colonies__rpc"} == {
        "cancel_process",
        "cancel_processgraph",
        "add_file_ref",
    }  # pycolonies lacks them
    for name in USED:
        assert "_Colonies__rpc" in getattr(base, name).__code__.co_names, f"pycolonies' {name} no longer uses __rpc"


class _Reply:
    def __init__(self, status: int, error: bool, payload: dict):
        self.status_code = status
        self.content = json.dumps({"error": error, "payload": base64.b64encode(json.dumps(payload).encode()).decode()})


@pytest.mark.parametrize(
    "reply",
    [
        _Reply(200, False, {"processid": "p1", "state": 0}),
        _Reply(400, True, {"status": 400, "message": "Process with id <x> not found"}),
        _Reply(404, False, {"status": 404, "message": "No process available for assignment"}),
    ],
)
def test_envelope_reply_and_errors_are_pycolonies(reply, monkeypatch):
    """The same bytes posted to the same URL, the same answer or the same exception and text."""
    msg = {"msgtype": "getprocessmsg", "processid": "x"}
    sent, outcome = [], []
    monkeypatch.setattr(pycolonies.requests, "post", lambda url, data, verify: sent.append((url, data)) or reply)
    monkeypatch.setattr(rpc._HTTP, "post", lambda url, data, msgtype: sent.append((url, data)) or reply)
    for cls in (pycolonies.Colonies, rpc.Colonies):
        try:
            outcome.append(("ok", cls("h", 1)._Colonies__rpc(msg, KEY)))
        except Exception as exc:  # noqa: BLE001 - compared below
            outcome.append((type(exc), str(exc)))
    assert sent[0] == sent[1] and sent[0][0] == "http://h:1/api"
    assert outcome[0] == outcome[1]


def test_a_connection_failure_is_pycolonies_error(monkeypatch):
    import requests

    def refused(*a, **k):
        raise requests.ConnectionError("Connection refused")

    monkeypatch.setattr(pycolonies.requests, "post", refused)
    monkeypatch.setattr(rpc._HTTP, "post", refused)
    texts = []
    for cls in (pycolonies.Colonies, rpc.Colonies):
        with pytest.raises(pycolonies.ColoniesConnectionError) as exc:
            cls("h", 1).get_process("x", KEY)
        texts.append(str(exc.value))
    assert texts[0] == texts[1]


def test_added_messages():
    sent = []

    class Recorder(rpc.Colonies):
        def _Colonies__rpc(self, msg, prvkey):
            sent.append(msg)
            return {}

    c = Recorder("h", 1)
    c.cancel_process("p", KEY)
    c.cancel_processgraph("g", KEY)
    c.add_file_ref({"name": "r.h5"}, KEY)
    assert sent == [
        {"msgtype": "cancelprocessmsg", "processid": "p"},
        {"msgtype": "cancelprocessgraphmsg", "processgraphid": "g"},
        {"msgtype": "addfilemsg", "file": {"name": "r.h5"}},
    ]
