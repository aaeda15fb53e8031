"""Results that scale (issue 11 item 6): above distributions.max_qubits a result file keeps sampled
counts, not 2^n arrays; entropy/JSD/fidelity are estimated from them with a stated error that covers
the exact value (known distributions, seeded); the validator checks the counts and the estimators."""

import math
import shutil

import h5py
import numpy as np
import pytest

import hpcq.results.h5format as F
from hpcq.functions import JobContext
from hpcq.results.series import read_series
from hpcq.sim import memory
from hpcq.sim import metrics as M
from hpcq.sim.spec import DistributionsSpec, parse_sweep
from hpcq.worker.taskfile import load_task
from tests.scale import tfim_sweep

K = 1024  # outcomes of the known distributions (10 bits)


def _known(lam: float) -> tuple[np.ndarray, np.ndarray]:
    w = np.exp(-np.arange(K) / 40.0)
    p = w / w.sum()
    return p, (1 - lam) * p + lam / K  # an ideal-like peaked distribution and a depolarized copy


def _counts(rng, p, shots) -> dict[str, int]:
    return {format(i, "010b"): int(c) for i, c in enumerate(rng.multinomial(shots, p)) if c}


def test_one_place_for_the_limit_and_the_metric_names():
    assert DistributionsSpec().max_qubits == memory.DENSE_MAX_QUBITS
    assert set(M.DISTRIBUTION_METRICS) <= set(F.METRIC_ATTRS)
    assert tuple(k + "_err" for k in M.DISTRIBUTION_METRICS) == M.SAMPLED_ERR_METRICS
    assert set(M.estimators()) <= set(F.COUNTS_ATTRS)


@pytest.mark.parametrize("lam", [0.3, 0.05])
@pytest.mark.parametrize("shots", [2000, 20000])
def test_estimators_agree_with_exact_values_within_their_error(lam, shots):
    p, q = _known(lam)
    exact = {
        "entropy_ideal": M.shannon_entropy(p),
        "entropy_noisy": M.shannon_entropy(q),
        "jsd": M.js_divergence(p, q),
        "fidelity": M.classical_fidelity(p, q),
    }
    exact["delta_entropy"] = exact["entropy_noisy"] - exact["entropy_ideal"]
    exact["entropy_ratio"] = exact["entropy_noisy"] / exact["entropy_ideal"]
    z = {k: [] for k in exact}
    for seed in range(8):
        rng = np.random.default_rng([seed, shots])
        est = M.sampled_distribution_metrics(_counts(rng, p, shots), _counts(rng, q, shots), seed=seed)
        for k, v in exact.items():
            err = est[k + "_err"]
            assert 0 < err < 0.5 * max(abs(v), 0.1), (k, err)  # informative, not vacuous
            assert abs(est[k] - v) <= 3 * err, (k, est[k], v, err)
            z[k].append((est[k] - v) / err)
    for k, zs in z.items():  # the error is not just large: on average the estimates sit within it
        assert abs(np.mean(zs)) < 2, (k, zs)


def test_paired_counts_give_exact_zero_divergence():
    rng = np.random.default_rng(0)
    c = _counts(rng, _known(0.0)[0], 3000)
    est = M.sampled_distribution_metrics(c, c, seed=0, paired=True)
    assert est["jsd"] == 0 and est["jsd_err"] == 0 and est["fidelity"] == 1 and est["delta_entropy"] == 0
    assert est["entropy_ideal"] == est["entropy_noisy"] and est["entropy_ideal_err"] > 0
    again = M.sampled_distribution_metrics(c, c, seed=0, paired=True)
    assert again == est  # seeded bootstrap


SWEEP = tfim_sweep(
    "counts",
    4,
    10,
    seed=3,
    noise=[{"kind": "none"}, {"kind": "depolarizing", "p": 0.02}, {"kind": "readout", "p": 0.03}],
    method="statevector",
    shots=32,
    distributions={"max_qubits": 3, "shots": 3000},  # 4 qubits > 3: sampled counts
)


@pytest.fixture(scope="module")
def counts_file(tmp_path_factory):
    from hpcq.worker.entry import run_sweep

    out = tmp_path_factory.mktemp("counts")
    res = run_sweep(SWEEP, JobContext(process_id="proc-c", workdir=str(out), threads=1))
    return res.files[0]


def test_sampled_count_file_validates_and_names_its_estimators(counts_file):
    assert F.validate(counts_file) == []
    tasks = {t.task_id: t for t in parse_sweep(SWEEP).tasks()}
    with h5py.File(counts_file, "r") as f:
        assert f.attrs["format_version"] == F.FORMAT_VERSION == 2
        wt = float(f[F.PROVENANCE].attrs[F.WRITE_TIME])
        assert 0 < wt < float(f[F.PROVENANCE].attrs["wall_time_s"])
        for tid, g in f[F.TASKS].items():
            assert F.DISTRIBUTIONS not in g and F.COUNTS in g
            a = g[F.COUNTS].attrs
            assert a["shots"] == 3000 and a["n_bits"] == 4 and a["seed_ideal"] == tasks[tid].seed
            assert a["entropy_estimator"] == M.ENTROPY_ESTIMATOR and a["bootstrap_replicates"] == M.BOOTSTRAP_REPLICATES
            for s in F.COUNT_SETS:
                assert int(g[F.COUNTS_COUNTS[s]][()].sum()) == 3000
                assert g[F.COUNTS_OUTCOMES[s]].dtype == np.dtype("S4")
            m = g[F.METRICS].attrs
            assert all(math.isfinite(m[k]) for k in (*M.DISTRIBUTION_METRICS, *M.SAMPLED_ERR_METRICS))
            if tasks[tid].noise.kind == "none":
                assert a["paired"] and m["jsd"] == 0 and m["fidelity"] == 1
            else:
                assert not a["paired"] and m["jsd"] > 0 and m["entropy_noisy"] > m["entropy_ideal"]
    tid = next(t for t, s in tasks.items() if s.noise.kind == "readout")
    rec = load_task(counts_file, tid)
    assert rec.dist_ideal is None and sum(rec.counts["noisy"].values()) == 3000
    assert all(len(b) == 4 for b in rec.counts["ideal"])
    dist = read_series(counts_file)[tid]["dist"]  # what the catalog keeps for the dashboard's plot
    assert dist["n_outcomes"] == 16 and math.isclose(sum(dist["ideal"]), 1.0)


def test_validator_checks_counts_and_estimator_fields(counts_file, tmp_path):
    def broken(name, edit):
        p = tmp_path / f"{name}.h5"
        shutil.copy(counts_file, p)
        with h5py.File(p, "r+") as f:
            g = f[F.TASKS][sorted(f[F.TASKS])[0]]
            edit(g)
            f.attrs["content_sha256"] = F.content_sha256(f)  # only the edit is wrong
        return F.validate(p)

    def more(g):
        c = g[F.COUNTS_COUNTS["noisy"]]
        v = c[()]
        v[0] += 1
        c[...] = v

    assert any("sum to 3001, not shots = 3000" in p for p in broken("sum", more))
    assert any(
        "attribute jsd_estimator missing" in p for p in broken("est", lambda g: g[F.COUNTS].attrs.pop("jsd_estimator"))
    )
    assert any(
        "metrics attribute jsd_err missing" in p for p in broken("err", lambda g: g[F.METRICS].attrs.pop("jsd_err"))
    )


def test_large_register_file_holds_no_2n_arrays(tmp_path, monkeypatch):
    """30 qubits by MPS (exact TFIM energy from free fermions, as Lanczos cannot): counts only."""
    from hpcq.sim import vqe
    from hpcq.sim.tfim_exact import tfim_open_ground_energy
    from hpcq.worker.entry import run_sweep

    n = 30
    monkeypatch.setattr(vqe, "exact_ground_energy", lambda p: tfim_open_ground_energy(p.qubits))
    sweep = tfim_sweep(
        "big",
        n,
        2,
        optimizer="spsa",
        seed=1,
        method="matrix_product_state",
        mps={"bond_dimension": 8},
        distributions={"shots": 2000},
    )
    path = run_sweep(sweep, JobContext(process_id="proc-big", workdir=str(tmp_path), threads=1)).files[0]
    assert F.validate(path) == []
    sizes = []
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, o: sizes.append((o.size, name)) if isinstance(o, h5py.Dataset) else None)
        assert f[F.TASKS][sorted(f[F.TASKS])[0]][F.COUNTS].attrs["n_bits"] == n
    assert max(sizes)[0] < 2**20, max(sizes)  # nothing near 2^30 entries
    assert (tmp_path / path).stat().st_size < 2**20  # and the file stays small


def test_rerun_reproduces_the_sampled_counts(counts_file):
    from hpcq.worker.rerun import rerun_file

    tid = next(t.task_id for t in parse_sweep(SWEEP).tasks() if t.noise.kind == "depolarizing")
    (row,) = rerun_file(counts_file, task=tid)
    assert row["bit_identical"], row  # energy, trace, parameters and both count sets
