"""Local record of what this laptop submitted, and where each study's result files are.

So `hpcq status/fetch/cancel NAME` need no ids, and `hpcq results` / `hpcq ui` find a study's
files without being told: the one owner of "where a study's results are" (the client writes the
records, the results commands read them). One JSON file per submission in
``$HPCQ_CONFIG_DIR/submissions/``. Losing it loses nothing on the server side: every process is
also labelled with the study name (``spec.label``).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from hpcq.atomicfile import write_atomic
from hpcq.config import Settings, config_dir

_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def check_name(name: str, what: str = "name") -> str:
    """Names end up in file paths and labels: refuse traversal and odd characters."""
    if not _SAFE.match(name or ""):
        raise ValueError(
            f"{what} {name!r} is not allowed: use 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


@dataclass
class Submission:
    name: str
    kind: str  # "workflow" | "sweep" | "single"
    colony: str
    created: float = field(default_factory=time.time)
    processgraphid: str = ""
    processids: list[str] = field(default_factory=list)
    nodenames: dict[str, str] = field(default_factory=dict)  # processid -> nodename
    study_file: str = ""
    results_dir: str = ""  # where `hpcq fetch` put its files ("" = not fetched yet)
    executortype: str = "hpcq"


def records_dir() -> Path:
    return config_dir() / "submissions"


def save(sub: Submission) -> Path:
    check_name(sub.name, "study name")
    d = records_dir()
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"{sub.name}.json"
    return write_atomic(path, json.dumps(asdict(sub), indent=1))


def load(name: str) -> Submission:
    check_name(name, "study name")
    path = records_dir() / f"{name}.json"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in records_dir().glob("*.json"))) or "none"
        raise FileNotFoundError(f"no submission named {name!r} on this machine (known: {known})")
    return Submission(**json.loads(path.read_text()))


def latest() -> Submission | None:
    files = sorted(records_dir().glob("*.json"), key=lambda p: p.stat().st_mtime)
    return Submission(**json.loads(files[-1].read_text())) if files else None


def fetch_dir(name: str) -> Path:
    """Where `hpcq fetch NAME` puts a study's files unless told: ./results/NAME."""
    return Path("results") / name


def study_results_dir(sub: Submission) -> Path:
    """Where a submission's result files are on this machine (where it was fetched to)."""
    return Path(sub.results_dir) if sub.results_dir else fetch_dir(sub.name)


def latest_results_dir() -> Path | None:
    """The result folder of the latest submission (as `hpcq status`), if it was fetched."""
    sub = latest()
    if sub is None:
        return None
    d = study_results_dir(sub)
    return d if d.is_dir() else None


def default_results_dir() -> Path | None:
    """The folder `hpcq results` and `hpcq ui` read when not given one: the ``results_dir``
    setting (config.yaml or $HPCQ_RESULTS_DIR, through Settings), else the latest fetched study's.
    Raises hpcq.config.ConfigError for an invalid configuration."""
    configured = Settings.load().results_dir
    return Path(configured) if configured else latest_results_dir()
