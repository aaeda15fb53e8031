"""References that fit (issue 25 item 3): `hpcq problems show` of water/6-31G (24 qubits) and an H10
chain (20 qubits) completes within 2 GiB with PySCF's FCI as the exact reference, equal to PySCF
CASCI/FCI to 1e-8 Ha; a Pauli list too large for the sector diagonalisation is refused with the
numbers before anything is allocated, and runs with ``reference: skip``.

How the 2 GiB is enforced: importing Qiskit alone reserves ~1.2 GiB of address space that is never
touched (VmSize 1.25 GiB, VmRSS 0.18 GiB), so a bare RLIMIT_AS of 2 GiB would measure reservations,
not memory. The child imports everything first, then sets RLIMIT_AS = VmSize + (2 GiB - VmRSS): from
there every allocation grows VmSize at least as much as VmRSS, so VmRSS can never pass 2 GiB (an
allocation beyond fails with MemoryError). The child reports its peak RSS as VmHWM, its own
address space's high-water mark: not ru_maxrss, which Linux carries over from the forking parent
across exec (in the full suite pytest holds ~1 GiB, and a child that refused at 160 MiB read 1.07 GiB).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

LIMIT = 2 * 1024**3
CHILD = r"""
import json, resource, sys
import hpcq.cli, hpcq.client.problems_cli, hpcq.sim.problems, hpcq.sim.ansatz  # noqa: F401
import pyscf.fci, pyscf.mcscf, qiskit, qiskit_aer, scipy.sparse.linalg  # noqa: F401
def status(key):
    return next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith(key))
limit = status("VmSize:") + int(sys.argv[1]) - status("VmRSS:")
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
code = 0
try:
    hpcq.cli.main(sys.argv[2:], prog_name="hpcq")
except SystemExit as exc:
    code = exc.code or 0
finally:
    print("PEAK_RSS", status("VmHWM:"), file=sys.stderr)
sys.exit(code)
"""
H10 = "; ".join(f"H 0 0 {0.9 * i:.1f}" for i in range(10))


def _start(study: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]), OMP_NUM_THREADS="1")
    args = [sys.executable, "-c", CHILD, str(LIMIT), "problems", "show", str(study), "--json"]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _finish(proc: subprocess.Popen) -> tuple[int, str, str, int]:
    out, err = proc.communicate(timeout=600)
    peak = int(err.rsplit("PEAK_RSS", 1)[1].split()[0])
    print(f"child peak RSS {peak / 2**20:.0f} MiB (limit {LIMIT / 2**20:.0f} MiB)")
    return proc.returncode, out, err, peak


def test_water_631g_and_h10_references_fit_in_2_gib(tmp_path):
    from pyscf import gto, mcscf, scf

    study = tmp_path / "big.yaml"
    study.write_text(
        "name: big-refs\nsweep:\n  problems:\n"
        "    - {kind: molecule, geometry: h2o, basis: 6-31g, mapping: parity}\n"
        f'    - {{kind: molecule, geometry: "{H10}", mapping: jordan_wigner}}\n'
        "  ansatze:\n    - {kind: efficient_su2, reps: 1}\n"
    )
    proc = _start(study)
    # meanwhile, the independent reference: PySCF's own RHF + CASCI over all orbitals (= FCI)
    expected = []
    for atom, basis in (("O 0 0 0.1173; H 0 0.7572 -0.4692; H 0 -0.7572 -0.4692", "6-31g"), (H10, "sto-3g")):
        mf = scf.RHF(gto.M(atom=atom, basis=basis, verbose=0))
        mf.conv_tol = 1e-12
        mf.kernel()
        cas = mcscf.CASCI(mf, mf.mol.nao, mf.mol.nelectron)
        cas.fcisolver.conv_tol = 1e-12
        cas.verbose = 0
        expected.append((float(cas.kernel()[0]), float(mf.e_tot)))
    code, out, err, peak = _finish(proc)
    assert code == 0, err[-3000:]
    assert peak < LIMIT
    water, h10 = json.loads(out)["problems"]
    assert (water["qubits"], water["electrons"], water["spatial_orbitals"]) == (24, [5, 5], 13)
    assert (h10["qubits"], h10["electrons"]) == (20, [5, 5])
    for row, (e_casci, e_hf) in zip((water, h10), expected, strict=True):
        assert abs(row["exact_energy"] - e_casci) < 1e-8
        assert abs(row["hf_energy"] - e_hf) < 1e-8  # the qubit operator's HF diagonal element
        assert row["exact_method"].startswith("PySCF CASCI (= FCI)")
        assert "not diagonalised" in row["cross_check"]  # the sector would not fit its 256 MiB


def _big_pauli(path: Path) -> None:
    """A 24-qubit Jordan-Wigner operator, sector (6, 6) = 853776 states, 1501 X/Y patterns (1500 and the identity)."""
    rng = np.random.default_rng(7)
    labels, seen = ["I" * 24], set()
    while len(seen) < 1500:
        q = tuple(sorted(rng.choice(24, 4, replace=False)))
        if q in seen:
            continue
        seen.add(q)
        lbl = ["I"] * 24
        for k, p in zip(q, "XXYY", strict=True):
            lbl[23 - k] = p
        labels.append("".join(lbl))
    coeffs = [-10.0] + [float(c) for c in rng.normal(0, 0.01, len(labels) - 1)]
    path.write_text(json.dumps({"labels": labels, "coeffs": coeffs, "num_particles": [6, 6]}))


@pytest.mark.parametrize("skip", [False, True])
def test_pauli_list_too_large_is_refused_before_it_allocates(tmp_path, skip):
    _big_pauli(tmp_path / "big.json")
    extra = ", reference: skip" if skip else ""
    study = tmp_path / "p.yaml"
    study.write_text(
        "name: bigpauli\nsweep:\n  problems:\n"
        f"    - {{kind: pauli, file: big.json, mapping: jordan_wigner{extra}}}\n"
        "  ansatze:\n    - {kind: efficient_su2, reps: 1, initial_state: zero}\n"
    )
    code, out, err, peak = _finish(_start(study))
    if not skip:
        assert code == 1
        assert "(N_alpha, N_beta) = (6, 6) sector: 853776 states x 1501 distinct X/Y patterns needs about" in err
        assert "set reference: skip on the problem" in err
        assert peak < LIMIT // 2  # refused from the estimate: nothing of the ~100 GiB was allocated
        return
    assert code == 0, err[-3000:]
    (row,) = json.loads(out)["problems"]
    assert row["qubits"] == 24 and row["exact_energy"] is None and row["exact_method"].startswith("skipped")


def test_sizing_counts_the_reference():
    from hpcq.sim import memory
    from hpcq.sim.spec import parse_sweep

    sw = parse_sweep({"problems": [{"kind": "molecule", "geometry": "h2o", "basis": "6-31g"}], "method": "statevector"})
    (t,) = sw.tasks()
    fp = t.footprint()
    assert fp.reference_bytes == memory.fci_bytes(13, (5, 5)) > 0
    sim_only = memory.footprint(24, "statevector", reference_bytes=0)
    assert fp.rank_bytes == memory.BASE_PROCESS_BYTES + max(
        sim_only.rank_bytes - memory.BASE_PROCESS_BYTES, fp.reference_bytes
    )
    assert "exact reference" in fp.describe()
    skipped = parse_sweep(
        {"problems": [{"kind": "molecule", "geometry": "h2o", "basis": "6-31g", "reference": "skip"}]}
    )
    assert skipped.tasks()[0].footprint().reference_bytes == 0
