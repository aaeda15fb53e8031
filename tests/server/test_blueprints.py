"""Blueprints through pycolonies 1.0.25: definitions (colony owner), instances with schema
validation, generations, status, history, and the reconciliation processes and cron."""

import pytest
from pycolonies import ColoniesConnectionError

DEFINITION = {
    "kind": "BlueprintDefinition",
    "metadata": {"name": "executor-deployment", "colonyname": "dev"},
    "spec": {
        "group": "compute.colonies.io",
        "version": "v1",
        "scope": "Namespaced",
        "names": {"kind": "ExecutorDeployment", "singular": "executordeployment", "plural": "executordeployments"},
        "schema": {
            "type": "object",
            "required": ["image", "replicas"],
            "properties": {
                "image": {"type": "string"},
                "replicas": {"type": "number"},
                "mode": {"type": "string", "enum": ["fast", "safe"]},
            },
        },
        "handler": {"executorType": "reconciler", "functionName": "reconcile"},
    },
}


def blueprint(name="web", replicas=2, **spec):
    return {
        "kind": "ExecutorDeployment",
        "metadata": {"name": name, "colonyname": "dev"},
        "spec": {"image": "hpcq:1", "replicas": replicas, **spec},
    }


def test_definitions_are_owned_by_the_colony_owner(srv):
    c, up, owner = srv.client(), srv.user_prvkey, srv.colony_prvkey
    with pytest.raises(ColoniesConnectionError, match="not colony owner"):
        c.add_blueprint_definition(DEFINITION, up)
    d = c.add_blueprint_definition(DEFINITION, owner)
    assert len(d["blueprintdefinitionid"]) == 64
    assert c.get_blueprint_definition("dev", "executor-deployment", up)["spec"]["names"]["kind"] == "ExecutorDeployment"
    assert [x["metadata"]["name"] for x in c.get_blueprint_definitions("dev", up)] == ["executor-deployment"]
    c.add_blueprint(blueprint(), up)
    with pytest.raises(ColoniesConnectionError, match="still exist"):
        c.remove_blueprint_definition("dev", "executor-deployment", owner)
    c.remove_blueprint("dev", "web", up)
    c.remove_blueprint_definition("dev", "executor-deployment", owner)
    assert c.get_blueprint_definitions("dev", up) == []
    with pytest.raises(ColoniesConnectionError, match="not found"):
        c.get_blueprint_definition("dev", "executor-deployment", up)


def test_blueprint_lifecycle_and_reconciliation(srv):
    c, up, owner = srv.client(), srv.user_prvkey, srv.colony_prvkey
    rec = srv.add_executor("rec", "reconciler")
    with pytest.raises(ColoniesConnectionError, match="BlueprintDefinition for kind"):
        c.add_blueprint(blueprint(), up)
    c.add_blueprint_definition(DEFINITION, owner)
    with pytest.raises(ColoniesConnectionError, match="required field 'replicas'"):
        c.add_blueprint(
            {"kind": "ExecutorDeployment", "metadata": {"name": "x", "colonyname": "dev"}, "spec": {"image": "i"}}, up
        )
    with pytest.raises(ColoniesConnectionError, match="'replicas' must be a number"):
        c.add_blueprint(blueprint(replicas="two"), up)
    with pytest.raises(ColoniesConnectionError, match="must be one of"):
        c.add_blueprint(blueprint(mode="slow"), up)
    bp = c.add_blueprint(blueprint(), up)
    assert bp["metadata"]["generation"] == 1 and len(bp["blueprintid"]) == 64
    # an immediate reconciliation process for the reconciler, and the kind's reconciler cron
    p = c.assign("dev", 5, rec)
    assert p.spec.funcname == "reconcile" and p.spec.kwargs == {"kind": "ExecutorDeployment", "blueprintName": "web"}
    assert [x["name"] for x in c.get_crons("dev", 10, up)] == ["reconcile-ExecutorDeployment"]
    c.update_blueprint_status("dev", "web", {"ready": 2}, rec)
    got = c.get_blueprint("dev", "web", up)
    assert got["status"] == {"ready": 2} and got["metadata"]["generation"] == 1
    same = c.update_blueprint(dict(blueprint(), status={"ready": 2}), up)
    assert same["metadata"]["generation"] == 1  # spec unchanged: same generation, no process
    changed = c.update_blueprint(blueprint(replicas=3), up)
    assert changed["metadata"]["generation"] == 2 and changed["blueprintid"] == bp["blueprintid"]
    assert c.assign("dev", 5, rec).spec.kwargs["blueprintName"] == "web"
    assert c.update_blueprint(blueprint(replicas=3), up, force_generation=True)["metadata"]["generation"] == 3
    c.assign("dev", 5, rec)
    forced = c.reconcile_blueprint("dev", "web", up, force=True)
    assert forced["spec"]["kwargs"] == {"kind": "ExecutorDeployment", "blueprintName": "web", "force": True}
    assert c.get_blueprint("dev", "web", up)["metadata"]["generation"] == 4
    c.add_blueprint(blueprint("db", 1), up)
    assert [b["metadata"]["name"] for b in c.get_blueprints("dev", up, kind="ExecutorDeployment")] == ["web", "db"]
    assert c.get_blueprints("dev", up, kind="Other") == []
    history = c.get_blueprint_history(bp["blueprintid"], up)
    assert [h["changetype"] for h in history] == ["update", "update", "create"]
    assert len(c.get_blueprint_history(bp["blueprintid"], up, limit=1)) == 1
    with pytest.raises(ColoniesConnectionError, match="already exists"):
        c.add_blueprint(blueprint(), up)
    c.remove_blueprint("dev", "web", up)
    assert [x["name"] for x in c.get_crons("dev", 10, up)] == ["reconcile-ExecutorDeployment"]  # db remains
    c.remove_blueprint("dev", "db", up)
    assert c.get_crons("dev", 10, up) == []
    with pytest.raises(ColoniesConnectionError, match="Blueprint not found"):
        c.get_blueprint("dev", "web", up)
