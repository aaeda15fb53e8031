"""bench/bench_server.py's own arithmetic, without servers: the benchmark's figures (server CPU of a
process tree, the real/embedded ratios, the settled PostgreSQL counters) are only worth what these
pieces are, and the benchmark itself runs too long for the test suite."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_server", ROOT / "bench" / "bench_server.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules["bench_server"] = mod  # its dataclass looks its module up there
    try:
        spec.loader.exec_module(mod)
        yield mod
    finally:
        sys.modules.pop("bench_server", None)


def test_tree_cpu_counts_a_child_that_exited(bench):
    """A backend that comes and goes during a row still counts (through its parent's cutime)."""
    before, self0 = bench.tree_cpu_s(os.getpid()), time.process_time()
    burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.4: pass"
    subprocess.run([sys.executable, "-c", burn], check=True)
    grown = bench.tree_cpu_s(os.getpid()) - before - (time.process_time() - self0)
    assert grown >= 0.3, grown


def test_unknown_server_is_refused_by_name(bench, capsys):
    with pytest.raises(SystemExit):
        bench.parse_args(["--servers", "embedded,postgres"])
    assert "--servers: unknown ['postgres']" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench.parse_args(["--servers", "colonies", "--baseline", "HEAD"])
    assert "add embedded to --servers" in capsys.readouterr().err


def _row(server, cycles_per_s, cpu, parts):
    return {
        "client": "hpcq",
        "server": server,
        "server_version": "v1.9.12",
        "workers": 1,
        "cycles_per_s": cycles_per_s,
        "server_cpu_ms_per_cycle": cpu,
        "server_cpu_parts_ms_per_cycle": parts,
        "server_cpu_util": 0.5,
        "server_idle_cpu_util": 0.0,
        "client_cpu_ms_per_cycle": 2.0,
        "client_sign_cpu_ms_per_cycle": 0.2,
    }


def test_real_vs_embedded_ratios_and_table(bench):
    result = {
        "rows": [
            _row("current", 300.0, 1.0, {"hpcq": 1.0}),
            dict(
                _row("colonies", 75.0, 8.0, {"colonies": 5.0, "postgres": 3.0}), postgres_per_cycle={"xact_commit": 70}
            ),
        ]
    }
    result["summary"] = bench.summarize(result)
    (pair,) = result["summary"]["colonies_vs_embedded"]
    assert (pair["ratio_cycles_per_s"], pair["ratio_server_cpu"], pair["real_postgres_share"]) == (0.25, 8.0, 0.38)
    table = bench.markdown(result)
    assert "| colonies v1.9.12 | hpcq | 1 | 75.0 | 8.0 | 5.0 + 3.0 |" in table
    assert "| hpcq | 1 | 300.0 / 75.0 | 0.25 | 1.0 / 8.0 | 8.0 |" in table
    assert "| hpcq, 1 | 70 |" in table


def test_counters_are_read_once_no_row_is_written(bench, monkeypatch):
    """PostgreSQL publishes counts late: a pause of one read is not the end."""
    monkeypatch.setattr(bench.time, "sleep", lambda _s: None)
    seq = iter([60, 60, 100, 100, 100, 100, 100])
    reads = []

    def counters():
        reads.append(next(seq))
        return {"tup_inserted": reads[-1], "tup_updated": 0, "tup_deleted": 0}

    assert bench.settled(counters, quiet_s=3)["tup_inserted"] == 100
    assert len(reads) == 6
