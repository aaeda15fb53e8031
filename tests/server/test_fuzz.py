"""No input crashes the server, yields a non-error 5xx, or breaks the database: random
(but signed) messages for every message type, from a member and from the colony owner."""

import json

import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hpcq.colonyos import ProcessState as S
from hpcq.server.handlers import HANDLERS

from .conftest import raw_rpc

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False),
    st.text(max_size=8),
    st.sampled_from(["dev", "e1", "t", "0" * 64, "", "/a"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=4)),
    max_leaves=8,
)
FIELDS = [
    "colonyname",
    "processid",
    "processgraphid",
    "executorname",
    "count",
    "state",
    "timeout",
    "spec",
    "out",
    "errors",
    "attribute",
    "attributeid",
    "fun",
    "file",
    "fileid",
    "label",
    "name",
    "since",
    "latest",
    "executor",
    "user",
    "colony",
    "message",
    "snapshotid",
]
messages = st.tuples(
    st.sampled_from(sorted(HANDLERS) + ["assignprocessmsg"]),
    st.dictionaries(st.sampled_from(FIELDS), values, max_size=6),
    st.booleans(),
)


def test_random_messages_never_break_the_server(srv):
    url = srv.handle.url
    keys = {True: srv.colony_prvkey, False: srv.user_prvkey}

    @settings(max_examples=250, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(messages)
    def one(m):
        msgtype, body, as_owner = m
        if msgtype == "assignprocessmsg" and body.get("timeout") not in (None, 0):
            body["timeout"] = -1  # never long-poll in the fuzzer
        msg = dict(body, msgtype=msgtype)
        code, ptype, payload, error = raw_rpc(url, msg, keys[as_owner])
        assert code in (200, 400, 403, 404) or (code, payload["message"]) == (500, "executor not found"), (
            code,
            payload,
        )  # the real server's 500 for a non-executor
        assert error == (code != 200) and (ptype == "error") == error
        if error:
            assert payload["status"] == code and payload["message"]

    one()
    assert requests.get(srv.handle.base_url + "/health", timeout=5).status_code == 200
    st_ = srv.client().stats("dev", srv.user_prvkey)
    assert json.dumps(st_)
    # the database is intact and consistent: the normal flow still works end to end
    from pycolonies import func_spec

    c = srv.client()
    c.remove_all_processes("dev", srv.colony_prvkey)
    p = c.submit_func_spec(func_spec("f", [], "dev", "t"), srv.user_prvkey)
    a = c.assign("dev", 5, srv.e1)
    c.close(a.processid, ["ok"], srv.e1)
    assert c.get_process(a.processid, srv.user_prvkey).state == S.SUCCESS
    assert c.get_process(p.processid, srv.user_prvkey).state in (S.RUNNING, S.SUCCESS)
