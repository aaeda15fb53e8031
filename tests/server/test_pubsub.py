"""pycolonies' wait() over the /pubsub WebSocket."""

import threading
import time

import pytest
from pycolonies import func_spec

from hpcq.colonyos import ProcessState as S


def test_wait_returns_when_the_process_succeeds(srv):
    c, up = srv.client(), srv.user_prvkey
    p = c.submit_func_spec(func_spec("f", [], "dev", "t"), up)

    def executor():
        time.sleep(0.5)
        a = c.assign("dev", 5, srv.e1)
        c.close(a.processid, ["done"], srv.e1)

    th = threading.Thread(target=executor)
    th.start()
    t = time.monotonic()
    done = c.wait(p, 10, up)
    th.join()
    assert done.state == S.SUCCESS and done.output == ["done"] and 0.3 < time.monotonic() - t < 5
    assert c.wait(p, 10, up).state == S.SUCCESS  # already there: answered at once


def test_wait_times_out_by_closing_the_socket(srv):
    c, up = srv.client(), srv.user_prvkey
    p = c.submit_func_spec(func_spec("f", [], "dev", "nobody"), up)
    t = time.monotonic()
    with pytest.raises(Exception):
        c.wait(p, 1, up)
    assert 0.9 < time.monotonic() - t < 4


def test_wait_refuses_strangers(srv):
    from hpcq.colonyos.signing import new_prvkey

    c, up = srv.client(), srv.user_prvkey
    p = c.submit_func_spec(func_spec("f", [], "dev", "t"), up)
    # the error comes back as one frame; wait() then fails on get_process with the same key
    with pytest.raises(Exception, match="Access denied"):
        c.wait(p, 1, new_prvkey())
