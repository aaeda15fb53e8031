"""The laptop-side Python API: submit a study, watch it, read logs, cancel, fetch results.

Talks to ColonyOS only through pycolonies. Usage::

    from hpcq.client import Client, load_study
    c = Client()                                   # settings from hpcq.config
    sub = c.submit(load_study("study.yaml"))
    c.watch(sub)                                   # live progress, ETA, failed steps
    files = c.fetch(sub, "results/")
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from hpcq.client.cancel import cancel_submission
from hpcq.client.dag import build_specs
from hpcq.client.placement import place
from hpcq.client.progress import Tracker, rich_watch
from hpcq.client.sites import colony_sites
from hpcq.client.study import Study, check_placement
from hpcq.colonyos import connect
from hpcq.colonyos.files import FileTransferError, in_object_store, process_files
from hpcq.colonyos.files import fetch as fetch_file
from hpcq.config import Settings
from hpcq.results import records
from hpcq.results.records import Submission


class ClientError(Exception):
    """A problem the user can fix; the message says how."""


def _funcspec(d: dict[str, Any]):
    from hpcq.colonyos.rpc import funcspec

    return funcspec(d)


class Client:
    def __init__(self, settings: Settings | None = None):
        self.settings = settings or Settings.load()
        self.settings.require("colony_name", "prvkey")
        self.colonies = connect(self.settings)
        self.colony = self.settings.colony_name
        self.key = self.settings.prvkey

    # -- submit ---------------------------------------------------------------------------
    def submit(self, study: Study, *, save: bool = True) -> Submission:
        """Submit a study in its mode (workflow DAG, one process per task, or one job)."""
        if not study.colony:
            study.colony = self.colony
        specs = build_specs(study)
        if study.placement is not None:
            specs = self.place(study, specs)
        return self.submit_specs(
            study.name,
            specs,
            workflow=study.mode == "workflow",
            executortype=study.executor.type,
            kind=study.mode,
            save=save,
        )

    def place(self, study: Study, specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Keep each step on the sites the study's placement allows, from the colony's sites now
        (hpcq.client.placement); PlacementError before anything is submitted."""
        assert study.placement is not None
        check_placement(study)  # again: the mode may have been changed since the study was read
        try:
            sites = colony_sites(self.colonies, study.colony, self.key, executortype=study.executor.type)
        except Exception as exc:  # noqa: BLE001 - pycolonies raises one type for everything
            raise ClientError(
                f"placement needs the colony's sites, but listing the executors of {study.colony!r} failed: {exc}"
            ) from exc
        return place(specs, study.placement, sites)

    def submit_specs(
        self,
        name: str,
        specs: list[dict[str, Any]],
        *,
        workflow: bool,
        executortype: str = "hpcq",
        kind: str = "",
        save: bool = True,
    ) -> Submission:
        """Submit FuncSpec-shaped dicts (hpcq.client.specs) as one workflow or as processes."""
        records.check_name(name, "study name")
        for s in specs:
            s["conditions"].setdefault("colonyname", self.colony)
            s["conditions"]["colonyname"] = s["conditions"]["colonyname"] or self.colony
        colony = specs[0]["conditions"]["colonyname"] if specs else self.colony
        sub = Submission(
            name=name, kind=kind or ("workflow" if workflow else "sweep"), colony=colony, executortype=executortype
        )
        try:
            if workflow:
                from hpcq.colonyos.rpc import LocatedWorkflow

                graph = self.colonies.submit_workflow(
                    LocatedWorkflow(colonyname=colony, functionspecs=[_funcspec(s) for s in specs]), self.key
                )
                sub.processgraphid = graph.processgraphid
                sub.processids = list(graph.processids)
                for pid in sub.processids:
                    sub.nodenames[pid] = self.colonies.get_process(pid, self.key).spec.nodename
            else:
                for s in specs:
                    p = self.colonies.submit_func_spec(_funcspec(s), self.key)
                    sub.processids.append(p.processid)
                    sub.nodenames[p.processid] = s["nodename"]
        except Exception as exc:
            raise ClientError(
                f"submitting {name!r} to colony {colony!r} at {self.settings.host}:{self.settings.port} failed: {exc}"
            ) from exc
        finally:
            if save and sub.processids:
                records.save(sub)
        return sub

    # -- watch ------------------------------------------------------------------------------
    def tracker(self, sub: Submission) -> Tracker:
        return Tracker(self.colonies, self.key, sub.processids, sub.nodenames)

    def watch(self, sub: Submission, *, timeout: float | None = None, interval: float = 1.0, console=None):
        return self.watch_tracker(self.tracker(sub), timeout=timeout, interval=interval, console=console)

    def watch_tracker(self, tracker: Tracker, *, timeout: float | None = None, interval: float = 1.0, console=None):
        return rich_watch(tracker, interval=interval, timeout=timeout, console=console)

    def logs(self, processid: str, count: int = 100, since: int = 0) -> list[dict]:
        logs = self.colonies.get_process_log(self.colony, processid, count, since, self.key)
        return list(logs or [])

    # -- cancel -----------------------------------------------------------------------------
    def cancel(self, sub: Submission) -> dict[str, int]:
        """Cancel what has not finished: on the server where it can (colonies >= v1.9.12, hpcq's
        server), else remove what waits and ask the executor to cancel what runs (hpcq.client.cancel)."""
        return cancel_submission(self.colonies, self.key, sub, submit=self._submit)

    def _submit(self, spec: dict[str, Any]):
        return self.colonies.submit_func_spec(_funcspec(spec), self.key)

    # -- fetch ------------------------------------------------------------------------------
    def fetch(self, sub: Submission, dest: str | Path) -> list[Path]:
        """Bring every result file of the submission to ``dest``.

        Files registered in S3 are downloaded through pycolonies; files registered as
        shared-filesystem references are copied when this machine can read that path (the demo,
        or a laptop mounting the cluster filesystem); otherwise the error says where they are.
        """
        dest = Path(dest)
        dest.mkdir(parents=True, exist_ok=True)
        tracker = self.tracker(sub)
        tracker.poll()
        got, unreachable = [], []
        for pid, out in tracker.outputs().items():
            ref = str(out[0]) if out else ""
            if not ref.endswith(".h5"):
                continue
            target = dest / Path(ref).name
            if target.exists():
                got.append(target)
            elif Path(ref).is_file():
                shutil.copy2(ref, target)
                got.append(target)
            elif self._download_or_refuse(pid, dest):
                got.append(target)
            else:
                unreachable.append(ref)
        if unreachable:
            raise ClientError(
                f"{len(unreachable)} result file(s) live only on the cluster filesystem (e.g. {unreachable[0]}) "
                "and are not in S3. Configure AWS_S3_* on the executor so results are uploaded, or copy "
                "them with scp/rsync; fetched so far: " + str(len(got))
            )
        return got

    def _download_or_refuse(self, processid: str, dest: Path) -> bool:
        try:
            return self._download(processid, dest)
        except FileTransferError as exc:
            raise ClientError(str(exc)) from None

    def _download(self, processid: str, dest: Path) -> bool:
        """The process's files from ColonyOS file storage (S3), each checked against its registered
        SHA-256; False when there is nothing downloadable (shared-filesystem references)."""
        try:
            files = process_files(self.colonies, self.colony, self.key, processid)
        except Exception:  # noqa: BLE001
            return False
        stored = [f for f in files if in_object_store(f)]
        for f in stored:
            fetch_file(self.colonies, self.colony, self.key, processid, f, dest)  # FileTransferError: refused
        return bool(stored)
