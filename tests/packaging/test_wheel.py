"""hpcq installed the way users install it (issue 14 items 1-2): build the wheel, install it into a
clean virtual environment with only the executor extra, and run it from outside the source tree:
every shipped profile is listed and checks, and `hpcq executor selftest` passes against the lab
Slurm cluster with the executor and the Slurm job both running the wheel's code.

Cost: building the wheel ~3 s; the venv + `pip install hpcq[executor]` ~10-30 s with pip's cache
(measured numbers: the test prints them with -s; docs/profiles.md "Packaging").
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHIPPED = sorted(p.stem for p in (REPO / "slurm_templates" / "profiles").glob("*.yaml"))
BUILD_INPUTS = ("setup.py", "setup.cfg", "pyproject.toml", "README.md", "hpcq", "slurm_templates")
BASE_REQUIRES = {"click", "rich", "pydantic", "pyyaml"}


def _timed(label: str, cmd: list[str], **kw) -> subprocess.CompletedProcess:
    t0 = time.monotonic()
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    print(f"[packaging] {label}: {time.monotonic() - t0:.1f} s (rc {r.returncode})")
    assert r.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel, built from a copy of the sources (a stale build/ in the checkout cannot leak in)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in BUILD_INPUTS:
        p = REPO / name
        if p.is_dir():
            shutil.copytree(p, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(p, src / name)
    _timed(
        "pip wheel --no-deps",
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp / "dist"), str(src)],
    )
    [whl] = (tmp / "dist").glob("hpcq-*.whl")
    return whl


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A clean venv with the wheel and its executor extra only (pip of this environment installs
    into it with --python, so the venv itself needs no pip)."""
    v = tmp_path_factory.mktemp("venv") / "v"
    _timed("python -m venv", [sys.executable, "-m", "venv", "--without-pip", str(v)])
    _timed(
        "pip install hpcq[executor]",
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(v / "bin" / "python"),
            "install",
            "-q",
            f"hpcq[executor] @ {wheel.as_uri()}",
        ],
    )
    return v


@pytest.fixture
def outside(tmp_path) -> tuple[Path, dict[str, str]]:
    """A cwd outside the source tree and an environment that cannot see the checkout."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["HPCQ_CONFIG_DIR"] = str(tmp_path / "config")  # no user profiles
    env["PYTHONUNBUFFERED"] = "1"
    return tmp_path, env


def test_the_wheel_holds_every_runtime_file_and_role_extras(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for stem in SHIPPED:
        assert f"hpcq/_slurm_templates/profiles/{stem}.yaml" in names, stem
    assert "hpcq/_slurm_templates/README.md" in names
    for p in (REPO / "hpcq").rglob("*"):  # every data file of the package (studies, lab scripts, ...)
        if p.is_file() and p.suffix in (".yaml", ".yml", ".json", ".sh", ".md", ".js") and "__pycache__" not in p.parts:
            assert p.relative_to(REPO).as_posix() in names, p
    assert {
        "hpcq/executor/lab_scripts/slurm-up.sh",
        "hpcq/executor/lab_scripts/slurm-down.sh",
        "hpcq/client/studies/demo.yaml",
        "hpcq/ui/assets/plotly-basic.min.js",  # the dashboard's partial plotly.js
    } <= names
    meta = Parser().parsestr(zipfile.ZipFile(wheel).read("hpcq-0.1.0.dist-info/METADATA").decode())
    requires = meta.get_all("Requires-Dist")
    base = {r.split(";")[0].split(">")[0].split("=")[0].split("<")[0].strip().lower() for r in requires if ";" not in r}
    assert base == BASE_REQUIRES, base
    assert set(meta.get_all("Provides-Extra")) >= {"client", "executor", "worker", "ui", "server", "all", "test"}
    mpi = [r for r in requires if r.lower().startswith(("mpich", "mpi4py"))]
    assert mpi and all('extra == "worker"' in r for r in mpi), mpi  # a laptop (hpcq[client]) gets no MPICH


def test_profiles_from_a_clean_venv_outside_the_tree(venv, outside):
    cwd, env = outside
    hpcq = str(venv / "bin" / "hpcq")
    where = _timed(
        "import hpcq", [str(venv / "bin" / "python"), "-c", "import hpcq; print(hpcq.__file__)"], cwd=cwd, env=env
    ).stdout.strip()
    assert where.startswith(str(venv)) and not where.startswith(str(REPO)), where
    listed = json.loads(
        _timed("hpcq profiles list --json", [hpcq, "profiles", "list", "--json"], cwd=cwd, env=env).stdout
    )
    assert sorted(p["name"] for p in listed) == SHIPPED
    assert all(p["path"].startswith(str(venv)) for p in listed)  # read from the install, not the checkout
    out = _timed("hpcq profiles check", [hpcq, "profiles", "check"], cwd=cwd, env=env).stdout
    assert out.count("ok   ") == len(SHIPPED), out
    r = subprocess.run([hpcq, "profiles", "show", "nosuch"], cwd=cwd, env=env, capture_output=True, text=True)
    assert r.returncode == 1 and "unknown profile 'nosuch'" in r.stderr and str(venv) in r.stderr, r.stderr


def test_what_an_executor_install_lacks_is_said_plainly(venv, outside):
    """The executor extra has no Qiskit, pandas or Dash: the commands that need them say which
    extra to install instead of failing with a traceback."""
    cwd, env = outside
    hpcq = str(venv / "bin" / "hpcq")
    r = subprocess.run([hpcq, "demo", "--workdir", str(cwd / "demo")], cwd=cwd, env=env, capture_output=True, text=True)
    assert r.returncode == 1 and "pip install 'hpcq[all]'" in r.stderr and "qiskit_aer" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and not (cwd / "demo").exists()  # refused before starting anything
    r = subprocess.run([hpcq, "ui"], cwd=cwd, env=env, capture_output=True, text=True)
    assert r.returncode == 1 and "`hpcq ui` is unavailable" in r.stderr and "hpcq[all]" in r.stderr, r.stderr


@pytest.mark.slurm
def test_executor_selftest_from_the_wheel_on_the_lab_cluster(venv, outside, slurm_cluster, colonies_server):
    cwd, env = outside
    env.update(colonies_server.env)
    env.pop("COLONIES_EXECUTOR_NAME", None)
    env["SLURM_CONF"] = str(slurm_cluster.conf)
    hpcq = str(venv / "bin" / "hpcq")
    log = open(cwd / "executor.log", "w")  # noqa: SIM115 - the executor subprocess writes it
    ex = subprocess.Popen(
        [
            hpcq,
            "executor",
            "start",
            "--backend",
            "slurm",
            "--profile",
            "local",
            "--state-dir",
            str(cwd / "state"),
            "--type",
            "hpcq-wheel",
            "--name",
            "wheel-executor",
        ],
        cwd=cwd,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        r = subprocess.run(
            [hpcq, "executor", "selftest", "--type", "hpcq-wheel", "--timeout", "150", "--message", "from the wheel"],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=200,
        )
        assert r.returncode == 0 and "SUCCESS" in r.stdout, (
            r.stdout,
            r.stderr,
            (cwd / "executor.log").read_text()[-3000:],
        )
        assert "from the wheel" in r.stdout
    finally:
        ex.terminate()
        try:
            ex.wait(30)
        except subprocess.TimeoutExpired:
            ex.kill()
            ex.wait()
        log.close()
    scripts = list((cwd / "state" / "jobs").rglob("*_submission.sh"))
    assert scripts, "no Slurm job was submitted"
    assert f"{venv}/bin/python -u -m submitit.core._submit" in scripts[0].read_text()  # the job ran the wheel
