"""GPU path without a GPU (issue 11 item 5): what CI can check. ``device: GPU`` fails at job start,
naming the field and the fix, when the job's Aer has no GPU; the file records the Aer that ran
(package, version, devices, build flavour) and the device; GPU profiles select the GPU Aer; the
GPU check script (bench/gpu_check.sh) parses and its CPU part runs. The GPU run itself is
bench/gpu_check.sh on a GPU machine (none lent so far)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import h5py
import pytest

from hpcq.executor.profiles import load_profile, profile_files
from hpcq.functions import JobContext
from hpcq.sim import aer_env
from tests.scale import tfim_sweep

ROOT = Path(__file__).resolve().parents[2]
SWEEP = tfim_sweep("gpu", 3, 8)
NVIDIA_GPU_PROFILES = ("leonardo-booster", "karolina-gpu", "meluxina-gpu", "mn5-acc", "vega-gpu", "jupiter")


def test_gpu_options_custatevec_for_statevector_only():
    assert aer_env.gpu_options("statevector", "GPU") == {"cuStateVec_enable": True}
    assert aer_env.gpu_options("matrix_product_state", "GPU") == {"cuStateVec_enable": False}
    assert aer_env.gpu_options("statevector", "CPU") == {}


@pytest.mark.skipif("GPU" in aer_env.available_devices(), reason="this Aer has a GPU: the refusal cannot happen")
def test_device_gpu_fails_at_job_start_naming_field_and_fix(tmp_path):
    from hpcq.worker.entry import run_sweep

    with pytest.raises(RuntimeError) as exc:
        run_sweep(dict(SWEEP, device="GPU"), JobContext(process_id="p-gpu", workdir=str(tmp_path), threads=1))
    msg = str(exc.value)
    assert msg.startswith("device: 'GPU' requested")
    fixes = ("aer: gpu", "qiskit-aer-gpu", "device: auto / CPU")
    for part in ("qiskit-aer 0.18", "build CPU", "reports only CPU", *fixes):
        assert part in msg, (part, msg)
    assert list(tmp_path.iterdir()) == []  # nothing ran, nothing written


def test_file_records_device_and_aer_build(tmp_path):
    from hpcq.worker.entry import run_sweep

    res = run_sweep(dict(SWEEP, device="auto"), JobContext(process_id="p-auto", workdir=str(tmp_path), threads=1))
    build = aer_env.aer_build()
    assert build["aer_build"] in ("CPU", "GPU", "MPI", "GPU+MPI")
    with h5py.File(res.files[0], "r") as f:
        prov = f["provenance"].attrs
        for k in ("aer_package", "aer_version", "aer_devices", "aer_build"):
            assert str(prov[k]) == build[k], k
        device = str(prov["device"])
        assert device == ("GPU" if "GPU" in build["aer_devices"] else "CPU")
        for g in f["tasks"].values():
            assert str(g.attrs["device"]) == device
            assert ("custatevec" in g["metrics"].attrs) == (device == "GPU")


def test_gpu_profiles_select_the_gpu_aer():
    names = set(profile_files())
    for name in NVIDIA_GPU_PROFILES:
        assert name in names, name
        p = load_profile(name)
        assert p.gpu_vendor == "nvidia" and p.gpus_per_node > 0 and p.aer == "gpu", name
    lumi = load_profile("lumi-g")  # AMD: no ROCm wheel; aer: gpu only after a ROCm source build
    assert lumi.gpu_vendor == "amd" and lumi.aer != "gpu" and "ROCm" in lumi.notes.get("aer", "")


def test_gpu_check_script_parses_and_its_cpu_part_runs(tmp_path):
    script = ROOT / "bench" / "gpu_check.sh"
    subprocess.run(["bash", "-n", str(script)], check=True)
    out = tmp_path / "gpu_check.json"
    env = dict(os.environ, GPU_CHECK_CPU="1", RESULT=str(out), PYTHON=sys.executable)
    p = subprocess.run(["bash", str(script), "6"], env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    import json

    figures = json.loads(out.read_text())
    assert figures["aer"] == aer_env.aer_build() and figures["hpcq_task"]["device"] == "CPU"
    assert figures["raw_aer"]["custatevec_off"]["device"] == "CPU"
