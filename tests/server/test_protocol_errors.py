"""Bad envelopes get the real server's error shape and status; none of them hurts the server."""

import base64
import json

import pytest
import requests

from hpcq.colonyos.signing import new_prvkey

from .conftest import decode, raw_rpc, sign


def post(srv, body: bytes | str):
    return requests.post(srv.handle.url, data=body, timeout=30)


def assert_error(resp, status, text):
    code, ptype, payload, error = decode(resp)
    assert (code, ptype, error) == (status, "error", True)
    assert payload["status"] == status
    assert text in payload["message"]


def envelope(msg: dict, prvkey: str, payloadtype=None) -> str:
    payload = base64.b64encode(json.dumps(msg).encode()).decode()
    return json.dumps(
        {"payloadtype": payloadtype or msg["msgtype"], "payload": payload, "signature": sign(payload, prvkey)}
    )


def test_error_shapes(colonies_server):
    s = colonies_server
    up = s.user_prvkey
    assert_error(post(s, b"not json{"), 400, "not JSON")
    assert_error(post(s, b"[1,2]"), 400, "JSON object")
    assert_error(post(s, json.dumps({"payloadtype": "getcolonymsg"})), 400, "payload")
    assert_error(post(s, json.dumps({"payloadtype": "getcolonymsg", "payload": "%%%", "signature": ""})), 400, "base64")
    bad_json = base64.b64encode(b"{nope").decode()
    assert_error(
        post(s, json.dumps({"payloadtype": "getcolonymsg", "payload": bad_json, "signature": sign(bad_json, up)})),
        400,
        "not JSON",
    )
    # msgtype in the payload differs from payloadtype
    msg = {"msgtype": "getcolonymsg", "colonyname": "dev"}
    assert_error(post(s, envelope(msg, up, "getcolonystatsmsg")), 400, "does not match")
    # unknown payload type -> 403 like the real server
    assert_error(
        post(s, envelope({"msgtype": "launchmissilesmsg"}, up)), 403, "invalid rpcMsg.PayloadType: launchmissilesmsg"
    )
    # bad signatures -> 403
    payload = base64.b64encode(json.dumps(msg).encode()).decode()
    assert_error(
        post(s, json.dumps({"payloadtype": "getcolonymsg", "payload": payload, "signature": "00" * 65})),
        403,
        "signature",
    )
    assert_error(
        post(s, json.dumps({"payloadtype": "getcolonymsg", "payload": payload, "signature": "abc"})), 403, "signature"
    )
    # wrong field types inside a valid, signed message -> 400 naming the field
    code, _, p, _ = raw_rpc(
        s.handle.url, {"msgtype": "getprocessesmsg", "colonyname": "dev", "count": "ten", "state": 0}, up
    )
    assert code == 400 and "count" in p["message"]
    code, _, p, _ = raw_rpc(s.handle.url, {"msgtype": "submitfuncspecmsg", "spec": "x"}, up)
    assert code == 400 and "spec" in p["message"]
    # a valid request still works afterwards, and /health is fine
    code, ptype, p, err = raw_rpc(s.handle.url, {"msgtype": "getcolonymsg", "colonyname": "dev"}, up)
    assert (code, ptype, err, p["name"]) == (200, "getcolonymsg", False, "dev")
    assert requests.get(s.handle.base_url + "/health", timeout=5).status_code == 200


def test_oversize_body_is_413(colonies_server):
    big = b'{"payloadtype":"x","payload":"' + b"A" * (16 * 1024 * 1024 + 10) + b'"}'
    resp = post(colonies_server, big)
    assert_error(resp, 413, "exceeds the limit")
    assert requests.get(colonies_server.handle.base_url + "/health", timeout=5).status_code == 200


def test_unknown_caller_is_forbidden_and_unsigned_version_works(colonies_server):
    s = colonies_server
    code, _, p, err = raw_rpc(s.handle.url, {"msgtype": "getcolonymsg", "colonyname": "dev"}, new_prvkey())
    assert (code, err) == (403, True) and "Access denied" in p["message"]
    body = json.dumps(
        {
            "payloadtype": "versionmsg",
            "payload": base64.b64encode(b'{"msgtype":"versionmsg"}').decode(),
            "signature": "",
        }
    )
    code, ptype, p, err = decode(post(s, body))
    assert (code, ptype, err) == (200, "versionmsg", False) and "buildversion" in p


def test_other_routes(colonies_server):
    base = colonies_server.handle.base_url
    assert requests.get(base + "/health", timeout=5).text == ""
    assert requests.get(base + "/nothing", timeout=5).status_code == 404
    assert requests.post(base + "/nothing", data="{}", timeout=5).status_code == 404


@pytest.mark.parametrize(
    "payload",
    [
        {
            "msgtype": "submitfuncspecmsg",
            "spec": {"conditions": {"colonyname": "dev", "executortype": "t", "mem": "4gb"}},
        },
        {
            "msgtype": "submitfuncspecmsg",
            "spec": {"priority": 60000, "conditions": {"colonyname": "dev", "executortype": "t"}},
        },
        {
            "msgtype": "submitfuncspecmsg",
            "spec": {"conditions": {"colonyname": "dev", "executortype": "t", "nodes": "2"}},
        },
        {
            "msgtype": "submitfuncspecmsg",
            "spec": {"env": {"a": 1}, "conditions": {"colonyname": "dev", "executortype": "t"}},
        },
        {"msgtype": "getprocessesmsg", "colonyname": "dev", "count": 101, "state": 0},
        {"msgtype": "getlogsmsg", "colonyname": "dev", "count": 501, "processid": "x"},
    ],
)
def test_validation_errors_are_400_and_change_nothing(colonies_server, payload):
    s = colonies_server
    code, ptype, p, err = raw_rpc(s.handle.url, payload, s.user_prvkey)
    assert (code, ptype, err) == (400, "error", True), p
    assert s.client().stats("dev", s.user_prvkey)["waitingprocesses"] == 0


def test_null_versus_empty_list_shapes(colonies_server):
    """Go nil slices are JSON null in list replies; the fields pycolonies' pydantic models
    require as lists/dicts are always [] / {}."""
    up, url = colonies_server.user_prvkey, colonies_server.handle.url
    for msg in (
        {"msgtype": "getprocessesmsg", "colonyname": "dev", "count": 10, "state": 0},
        {"msgtype": "getexecutorsmsg", "colonyname": "dev"},
        {"msgtype": "getfunctionsmsg", "colonyname": "dev"},
        {"msgtype": "getprocessgraphsmsg", "colonyname": "dev", "count": 10},
        {"msgtype": "getsnapshotsmsg", "colonyname": "dev"},
        {"msgtype": "getfilesmsg", "colonyname": "dev", "label": "/x"},
        {"msgtype": "getfilelabelsmsg", "colonyname": "dev"},
    ):
        code, _, payload, _ = raw_rpc(url, msg, up)
        assert (code, payload) == (200, None), msg
    spec = {"funcname": "f", "conditions": {"colonyname": "dev", "executortype": "t"}}
    code, _, p, _ = raw_rpc(url, {"msgtype": "submitfuncspecmsg", "spec": spec}, up)
    assert code == 200
    assert (p["parents"], p["children"], p["errors"]) == ([], [], [])
    assert (p["in"], p["out"], p["attributes"]) == (None, None, None)
    assert p["spec"]["args"] == [] and p["spec"]["env"] == {} and p["spec"]["kwargs"] is None
    assert p["spec"]["conditions"]["dependencies"] == []
    assert p["spec"]["conditions"]["executornames"] is None
    assert p["spec"]["fs"] == {"mount": "", "snapshots": None, "dirs": None}
    assert "channels" not in p["spec"]
    assert p["starttime"] == "0001-01-01T00:00:00Z" and p["submissiontime"].endswith("Z")
    code, _, logs, _ = raw_rpc(
        url, {"msgtype": "getlogsmsg", "colonyname": "dev", "processid": p["processid"], "count": 10, "since": 0}, up
    )
    assert (code, logs) == (200, None)
    code, _, ok, _ = raw_rpc(url, {"msgtype": "removeprocessmsg", "processid": p["processid"]}, up)
    assert (code, ok) == (200, {})
