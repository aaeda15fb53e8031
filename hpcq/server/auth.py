"""The real server's roles: server owner, colony owner, member (approved executor or user),
assigned executor. Callers must hold the store lock."""

from __future__ import annotations

from hpcq.server.context import Ctx
from hpcq.server.wire import APPROVED, forbidden, notfound


def require_server_owner(ctx: Ctx, caller: str) -> None:
    if caller != ctx.server_id:
        raise forbidden("Access denied, not server owner")


def get_colony(ctx: Ctx, name: str) -> dict:
    colony = ctx.store.one("SELECT doc FROM colonies WHERE name=?", name)
    if colony is None:
        raise notfound(f"Colony with name <{name}> does not exist")
    return colony


def require_colony_owner(ctx: Ctx, caller: str, colonyname: str) -> dict:
    colony = ctx.store.one("SELECT doc FROM colonies WHERE name=?", colonyname)
    if colony is None:
        raise forbidden(f"Access denied, colony with name <{colonyname}> does not exist")
    if colony["colonyid"] != caller:
        raise forbidden("Access denied, not colony owner")
    return colony


def member_executor(ctx: Ctx, caller: str, colonyname: str) -> dict | None:
    return ctx.store.one("SELECT doc FROM executors WHERE executorid=? AND colonyname=?", caller, colonyname)


def require_member(ctx: Ctx, caller: str, colonyname: str, approved: bool = True) -> str:
    """Return the caller's name (executor or user name) if it belongs to the colony."""
    ex = member_executor(ctx, caller, colonyname)
    if ex is not None:
        if approved and ex["state"] != APPROVED:
            raise forbidden("Access denied, executor is not approved")
        return ex["executorname"]
    user = ctx.store.one("SELECT doc FROM users WHERE userid=? AND colonyname=?", caller, colonyname)
    if user is not None:
        return user["name"]
    if ctx.store.scalar("SELECT 1 FROM colonies WHERE name=?", colonyname) is None:
        raise forbidden(f"Access denied, colony with name <{colonyname}> does not exist")
    raise forbidden("Access denied, not member of colony")


def require_assignee(ctx: Ctx, caller: str, process: dict) -> dict:
    """Only the executor the process is assigned to may report on it."""
    if not process["isassigned"] or process["assignedexecutorid"] != caller:
        raise forbidden("Access denied, not assigned executor of process")
    ex = ctx.store.one(
        "SELECT doc FROM executors WHERE executorid=? AND colonyname=?",
        caller,
        process["spec"]["conditions"]["colonyname"],
    )
    if ex is None:
        raise forbidden("Access denied, executor not found in colony")
    return ex
