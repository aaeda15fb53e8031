"""Two executor processes polling 1,000 processes: each is assigned exactly once.
Fast path: the executors start when half is submitted and use single attempts (timeout -1)
until the submitter is done and the queue is empty."""

import multiprocessing as mp

from pycolonies import Colonies, ColoniesConnectionError, func_spec

N = 1000


def _executor(host, port, prvkey, q, start, done):
    c = Colonies(host, port)
    got = []
    start.wait()
    while True:  # single attempts (timeout -1) until the submitter is done and none is left
        try:
            got.append(c.assign("dev", -1, prvkey).processid)
        except ColoniesConnectionError as exc:
            assert "No process available" in str(exc), exc
            if done.is_set():
                break
    q.put(got)


def test_two_executors_1000_processes_each_assigned_once(srv):
    e2 = srv.add_executor("e2", "t")
    ctx = mp.get_context("fork")
    q, start, done = ctx.Queue(), ctx.Event(), ctx.Event()
    workers = [
        ctx.Process(target=_executor, args=(srv.handle.host, srv.handle.port, k, q, start, done)) for k in (srv.e1, e2)
    ]
    for w in workers:
        w.start()
    c = srv.client()
    submitted = []
    for i in range(N):
        submitted.append(c.submit_func_spec(func_spec("f", [str(i)], "dev", "t"), srv.user_prvkey).processid)
        if i == N // 2:
            start.set()  # the executors race each other (and the submitter) from here on
    done.set()  # after this, an empty queue means the executors are finished
    results = [q.get(timeout=120) for _ in workers]
    for w in workers:
        w.join(30)
    assigned = results[0] + results[1]
    assert len(assigned) == len(set(assigned)), "a process was assigned twice"
    assert set(assigned) == set(submitted), "a process was never assigned"
    assert all(results), "one executor got nothing: the pick is not shared"
    st = c.stats("dev", srv.user_prvkey)
    assert (st["runningprocesses"], st["waitingprocesses"]) == (N, 0)
