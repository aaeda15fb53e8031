"""Roles: server owner, colony owner (not a member), members, assigned executor."""

import pytest
from pycolonies import ColoniesConnectionError, func_spec

from hpcq.colonyos.signing import id_from_prvkey, new_prvkey


def refused(fn, *args, match="Access denied"):
    with pytest.raises(ColoniesConnectionError, match=match):
        fn(*args)


def test_server_owner_manages_colonies(colonies_server):
    s, c = colonies_server, colonies_server.client()
    sk = s.server_prvkey
    new_colony_key = new_prvkey()
    colony = {"colonyid": id_from_prvkey(new_colony_key), "name": "other"}
    refused(c.add_colony, colony, s.user_prvkey, match="not server owner")
    refused(c.add_colony, colony, s.colony_prvkey, match="not server owner")
    assert c.add_colony(colony, sk) == colony
    with pytest.raises(ColoniesConnectionError, match="already exists"):
        c.add_colony(colony, sk)
    with pytest.raises(ColoniesConnectionError, match="colonyid"):
        c.add_colony({"colonyid": "xyz", "name": "bad"}, sk)
    assert {x["name"] for x in c.list_colonies(sk)} == {"dev", "other"}
    refused(c.list_colonies, s.user_prvkey, match="not server owner")
    assert c.get_colony("dev", s.user_prvkey)["name"] == "dev"
    refused(c.del_colony, "other", new_colony_key, match="not server owner")
    # removal cascades: an executor of "other" disappears with it
    ek = new_prvkey()
    c.add_executor(
        {"executorname": "x", "executorid": id_from_prvkey(ek), "colonyname": "other", "executortype": "t"},
        new_colony_key,
    )
    assert c.del_colony("other", sk) == {}
    assert [x["name"] for x in c.list_colonies(sk)] == ["dev"]
    refused(c.list_executors, "other", new_colony_key)


def test_colony_owner_manages_executors_but_is_not_a_member(colonies_server):
    s, c = colonies_server, colonies_server.client()
    ek = new_prvkey()
    ex = {"executorname": "e1", "executorid": id_from_prvkey(ek), "colonyname": "dev", "executortype": "t"}
    refused(c.add_executor, ex, s.user_prvkey, match="not colony owner")
    added = c.add_executor(ex, s.colony_prvkey)
    assert added["state"] == 0 and added["executorname"] == "e1"
    # pending executor: may list executors (approved=false) but not submit or assign
    assert [e["executorname"] for e in c.list_executors("dev", ek)] == ["e1"]
    refused(c.submit_func_spec, func_spec("f", [], "dev", "t"), ek, match="not approved")
    refused(c.assign, "dev", -1, ek, match="not approved")
    refused(c.approve_executor, "dev", "e1", s.user_prvkey, match="not colony owner")
    c.approve_executor("dev", "e1", s.colony_prvkey)
    assert c.get_executor("dev", "e1", s.user_prvkey)["state"] == 1
    # the colony owner is not a member: cannot submit or read processes
    refused(c.submit_func_spec, func_spec("f", [], "dev", "t"), s.colony_prvkey)
    refused(c.list_processes, "dev", 10, 0, s.colony_prvkey)
    c.reject_executor("dev", "e1", s.colony_prvkey)
    assert c.get_executor("dev", "e1", s.user_prvkey)["state"] == 2
    refused(c.assign, "dev", -1, ek, match="not approved")
    c.remove_executor("dev", "e1", s.colony_prvkey)
    refused(c.list_executors, "dev", ek)
    with pytest.raises(ColoniesConnectionError, match="not found"):
        c.get_executor("dev", "e1", s.user_prvkey)


def test_user_management_and_user_cannot_assign(colonies_server):
    s, c = colonies_server, colonies_server.client()
    uk = new_prvkey()
    user = {"colonyname": "dev", "userid": id_from_prvkey(uk), "name": "alice", "email": "a@x", "phone": ""}
    refused(c.add_user, user, s.user_prvkey, match="not colony owner")
    assert c.add_user(user, s.colony_prvkey) == user
    with pytest.raises(ColoniesConnectionError, match="already exists"):
        c.add_user(user, s.colony_prvkey)
    assert {u["name"] for u in c.get_users("dev", uk)} == {"alice", "hpcq-user"}
    p = c.submit_func_spec(func_spec("f", [], "dev", "t"), uk)
    assert p.initiatorname == "alice" and p.initiatorid == id_from_prvkey(uk)
    # only executors assign: a user gets the real server's 500 "executor not found"
    with pytest.raises(ColoniesConnectionError, match="executor not found"):
        c.assign("dev", -1, uk)
    c.remove_user("dev", "alice", s.colony_prvkey)
    refused(c.get_process, p.processid, uk)


def test_only_the_assigned_executor_reports(srv):
    c = srv.client()
    other = srv.add_executor("e2", "t")
    p = c.submit_func_spec(func_spec("f", [], "dev", "t"), srv.user_prvkey)
    # not yet assigned: nobody may close it
    refused(c.close, p.processid, [], srv.e1, match="not assigned executor")
    assert c.assign("dev", 5, srv.e1).processid == p.processid
    for fn, args in (
        (c.close, (p.processid, ["x"])),
        (c.fail, (p.processid, ["e"])),
        (c.set_output, (p.processid, ["x"])),
        (c.add_log, (p.processid, "hi")),
        (c.add_attribute, (p.processid, "k", "v")),
    ):
        refused(fn, *args, other, match="not assigned executor")
        refused(fn, *args, srv.user_prvkey, match="not assigned executor")
    c.close(p.processid, ["ok"], srv.e1)


def test_functions_only_by_the_executor_itself(srv):
    c = srv.client()
    refused(c.add_function, "dev", "e1", "simulate", srv.user_prvkey, match="executor itself")
    f = c.add_function("dev", "e1", "simulate", srv.e1)
    assert (f["funcname"], f["executorname"], f["executortype"], f["counter"]) == ("simulate", "e1", "t", 0)
    with pytest.raises(ColoniesConnectionError, match="already registered"):
        c.add_function("dev", "e1", "simulate", srv.e1)
    assert [x["funcname"] for x in c.get_functions_by_executor("dev", "e1", srv.user_prvkey)] == ["simulate"]
    assert len(c.get_functions_by_colony("dev", srv.user_prvkey)) == 1
    assert c.get_functions_by_executor("dev", "nobody", srv.user_prvkey) is None
    # the counter follows successful runs of that function
    c.submit_func_spec(func_spec("simulate", [], "dev", "t"), srv.user_prvkey)
    p = c.assign("dev", 5, srv.e1)
    c.close(p.processid, [], srv.e1)
    assert c.get_functions_by_colony("dev", srv.user_prvkey)[0]["counter"] == 1


def test_executor_reregistration(colonies_server, colonies_server_factory):
    c, ck = colonies_server.client(), colonies_server.colony_prvkey
    old, new = new_prvkey(), new_prvkey()
    ex = {"executorname": "e1", "colonyname": "dev", "executortype": "t"}
    c.add_executor(dict(ex, executorid=id_from_prvkey(old)), ck)
    c.approve_executor("dev", "e1", ck)
    # default (COLONIES_ALLOW_EXECUTOR_REREGISTER=true): same name replaces, back to pending
    again = c.add_executor(dict(ex, executorid=id_from_prvkey(new)), ck)
    assert again["state"] == 0 and again["executorid"] == id_from_prvkey(new)
    refused(c.list_executors, "dev", old)
    strict = colonies_server_factory(["--no-reregister"])
    sc = strict.client()
    sc.add_executor(dict(ex, executorid=id_from_prvkey(old)), strict.colony_prvkey)
    with pytest.raises(ColoniesConnectionError, match="already exists"):
        sc.add_executor(dict(ex, executorid=id_from_prvkey(new)), strict.colony_prvkey)
