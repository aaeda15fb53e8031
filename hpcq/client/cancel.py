"""Cancelling a submission: the client side of cancellation, in one place (`hpcq cancel`,
``Client.cancel``, a primitive job's ``cancel()``).

Two paths, chosen by what the server can do; that is *detected* (:func:`supports_cancel`), never
configured:

- server-side (colonies >= v1.9.12, hpcq's server): ``cancelprocessmsg`` / ``cancelprocessgraphmsg``
  (:class:`hpcq.colonyos.rpc.Colonies`) mark the processes CANCELLED; the executor assigned to them
  sees that and cancels their Slurm jobs (hpcq.executor.watcher).
- control process (colonies v1.9.7): a member may remove only processes that are waiting and not
  part of a workflow; for the rest hpcq submits an ``hpcq_cancel`` control process, which the
  executor handles by cancelling the Slurm jobs and failing the processes (hpcq.executor.daemon).

A process that ends while it is being cancelled is counted as already finished, and the others are
still cancelled; what could not be cancelled is raised at the end (:class:`CancelError`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hpcq.colonyos import ProcessState, executor_name, is_missing, is_not_found, is_unknown_message
from hpcq.functions import HPCQ_CANCEL, encode_kwargs
from hpcq.results.records import Submission

if TYPE_CHECKING:
    from hpcq.colonyos.rpc import Colonies

_PROBE_ID = "0" * 64  # no process has this id: the probe changes nothing
_supported: dict[str, bool] = {}  # server URL -> knows cancelprocessmsg
CONTROL_PRIORITY = 50000  # colonies' highest: the control process is assigned before any work


class CancelError(Exception):
    """Some processes could not be cancelled (the others were); the message names them and why."""


def supports_cancel(client: Colonies, prvkey: str) -> bool:
    """True when the server knows cancelprocessmsg (cached per server URL).

    A v1.9.7 server refuses the unknown payload type; a v1.9.12 (or hpcq) server answers that the
    probe's process does not exist."""
    url = client.url
    if url not in _supported:
        try:
            client.cancel_process(_PROBE_ID, prvkey)
            _supported[url] = True
        except Exception as exc:
            if is_unknown_message(exc):
                _supported[url] = False
            elif is_missing(exc):
                _supported[url] = True
            else:
                raise  # unreachable, refused for another reason: do not guess
    return _supported[url]


def cancel_submission(
    client: Colonies, prvkey: str, sub: Submission, submit: Callable[[dict[str, Any]], object]
) -> dict[str, int]:
    """Cancel every process of ``sub`` that has not finished; a report of counts for the user.

    ``submit`` submits a FuncSpec-shaped dict (the control process, on servers without cancel)."""
    if supports_cancel(client, prvkey):
        return _cancel_on_server(client, prvkey, sub)
    return _cancel_by_control_process(client, prvkey, sub, submit)


def control_spec(sub: Submission, pids: list[str], executor: str = "") -> dict[str, Any]:
    """The ``hpcq_cancel`` control process for these processes of ``sub`` (FuncSpec-shaped dict),
    pinned to ``executor`` (the name of the executor they are assigned to) when given: another
    executor of the same type would answer that they are not its own."""
    conditions: dict[str, Any] = {"colonyname": sub.colony, "executortype": sub.executortype, "dependencies": []}
    if executor:
        conditions["executornames"] = [executor]
    return {
        "nodename": f"cancel-{sub.name}",
        "funcname": HPCQ_CANCEL,
        "args": [],
        "kwargs": encode_kwargs({"processids": pids, "reason": f"cancelled by the user (hpcq cancel {sub.name})"}),
        "priority": CONTROL_PRIORITY,
        "maxwaittime": -1,
        "maxexectime": 60,
        "maxretries": 3,
        "label": sub.name,
        "conditions": conditions,
    }


def _processes(client: Colonies, prvkey: str, pids: list[str]) -> dict[str, Any]:
    """The processes that still exist (a removed one is skipped), by id."""
    found = {}
    for pid in pids:
        try:
            found[pid] = client.get_process(pid, prvkey)
        except Exception as exc:
            if is_not_found(exc):
                continue
            raise
    return found


def _ended(client: Colonies, prvkey: str, pid: str) -> bool:
    """The process finished or went away (so a refused cancel is no failure)."""
    try:
        return ProcessState(client.get_process(pid, prvkey).state).final
    except Exception as exc:  # noqa: BLE001 - the server cannot tell: count it as not cancelled
        return is_not_found(exc)


def _cancel_on_server(client: Colonies, prvkey: str, sub: Submission) -> dict[str, int]:
    """cancelprocess(graph)msg: the server marks them CANCELLED; the executor sees it and scancels."""
    states = {pid: ProcessState(p.state) for pid, p in _processes(client, prvkey, sub.processids).items()}
    open_ = [pid for pid, st in states.items() if not st.final]
    report = {"cancelled": 0, "already_finished": len(states) - len(open_)}
    failed: dict[str, str] = {}
    if sub.processgraphid and open_:
        try:
            client.cancel_processgraph(sub.processgraphid, prvkey)
            report["cancelled"] = len(open_)
        except Exception as exc:  # noqa: BLE001 - ended meanwhile, or a failure reported below
            ended = [pid for pid in open_ if _ended(client, prvkey, pid)]
            report["already_finished"] += len(ended)
            if len(ended) < len(open_):
                failed[f"workflow {sub.processgraphid}"] = str(exc)
    else:
        for pid in open_:
            try:
                client.cancel_process(pid, prvkey)
                report["cancelled"] += 1
            except Exception as exc:  # noqa: BLE001 - one refusal must not stop the rest
                if _ended(client, prvkey, pid):
                    report["already_finished"] += 1
                else:
                    failed[pid] = str(exc)
    if failed:
        raise CancelError(_failure_message(sub, report, failed))
    return report


def _cancel_by_control_process(
    client: Colonies, prvkey: str, sub: Submission, submit: Callable[[dict[str, Any]], object]
) -> dict[str, int]:
    """colonies v1.9.7: remove what waits, ask the executor (``hpcq_cancel``) to cancel what runs."""
    report = {"removed": 0, "cancel_requested": 0, "already_finished": 0}
    if sub.processgraphid:
        try:
            client.remove_processgraph(sub.processgraphid, prvkey)
            report["removed"] = len(sub.processids)
            return report
        except Exception:  # noqa: BLE001 - a running graph cannot be removed: cancel per process
            pass
    to_cancel: dict[str, list[str]] = {}  # assigned executor id ("" = none yet) -> process ids
    for pid, p in _processes(client, prvkey, sub.processids).items():
        if ProcessState(p.state).final:
            report["already_finished"] += 1
            continue
        if p.state == ProcessState.WAITING and not p.processgraphid:
            try:
                client.remove_process(pid, prvkey)
                report["removed"] += 1
                continue
            except Exception:  # noqa: BLE001 - assigned meanwhile: its executor cancels it
                pass
        to_cancel.setdefault(p.assignedexecutorid or "", []).append(pid)
    for executor_id, pids in to_cancel.items():
        submit(control_spec(sub, pids, executor_name(client, sub.colony, prvkey, executor_id)))
        report["cancel_requested"] += len(pids)
    return report


def _failure_message(sub: Submission, report: dict[str, int], failed: dict[str, str]) -> str:
    done = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in report.items())
    first = "; ".join(f"{what}: {why}" for what, why in list(failed.items())[:3])
    more = f" (and {len(failed) - 3} more)" if len(failed) > 3 else ""
    return f"cancelling {sub.name}: {done}; could not cancel {len(failed)}: {first}{more}"
