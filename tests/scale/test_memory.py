"""THE memory model (hpcq.sim.memory) and admission from the allocation (hpcq.executor.sizing):
the qubit limit follows from method, precision, memory per node, nodes and GPUs, not a constant."""

from pathlib import Path

import pytest

from hpcq.executor.resources import PlanError, plan_process
from hpcq.sim import memory
from hpcq.sim.spec import parse_sweep

GiB = memory.GiB
LOCAL_2x16 = """description: "2 nodes x 16 GiB, MPI-built Aer"
source: "test"
partition: debug
mpi: pmi2
cores_per_node: 8
mem_per_node_gb: 16
max_walltime_s: 3600
max_nodes: 2
aer: {aer}
"""


def _profile(tmp_path, aer="mpi", mem=16):
    path = tmp_path / f"two-{aer}-{mem}.yaml"
    path.write_text(LOCAL_2x16.format(aer=aer).replace("mem_per_node_gb: 16", f"mem_per_node_gb: {mem}"))
    return str(path)


def _sweep(n=28, parallel="statevector", **kw):
    return parse_sweep(
        {"problems": [{"kind": "tfim", "n_qubits": n}], "method": "statevector", "parallel": parallel, **kw}
    )


def test_state_and_rank_bytes():
    assert memory.state_bytes(28, "statevector") == 16 * 2**28 == 4 * GiB
    assert memory.state_bytes(28, "statevector", "single") == 2 * GiB
    assert memory.state_bytes(14, "density_matrix") == 16 * 4**14
    assert memory.state_bytes(10, "unitary") == 16 * 4**10
    assert memory.state_bytes(100, "stabilizer") < 10_000
    one = memory.footprint(28, "statevector")
    assert one.rank_bytes == int(4 * GiB * memory.AER_WORK_FACTOR + 0.999) + memory.BASE_PROCESS_BYTES
    # half the state in 8 chunks of 2^24 + one chunk's receive buffer (scripts/aer-mpi-patches/0001)
    two = memory.footprint(28, "statevector", ranks=2)
    assert two.rank_bytes == 2 * GiB + GiB // 4 + memory.BASE_PROCESS_BYTES and two.blocking_qubits == 24
    four = memory.footprint(28, "statevector", ranks=4)
    assert four.rank_bytes == GiB + GiB // 8 + memory.BASE_PROCESS_BYTES and four.blocking_qubits == 23
    assert memory.footprint(34, "statevector", ranks=2).blocking_qubits == 26  # chunks <= 1 GiB (one MPI message)
    mps = memory.footprint(100, "matrix_product_state", bond_dimension=64)
    assert mps.state_bytes == 100 * 2 * 64 * 64 * 16 + 100 * 64 * 8 and mps.rank_bytes < GiB
    gpu = memory.footprint(30, "statevector", gpus_per_rank=2)
    assert gpu.gpu_bytes == int(16 * 2**30 * memory.AER_WORK_FACTOR / 2 + 0.999)
    assert gpu.rank_bytes == memory.BASE_PROCESS_BYTES + 2 * memory.CUDA_CONTEXT_BYTES
    with pytest.raises(memory.SizingError, match="power-of-two"):
        memory.footprint(28, "statevector", ranks=3)
    with pytest.raises(memory.SizingError, match="cannot be distributed"):
        memory.footprint(12, "density_matrix", ranks=2)
    with pytest.raises(memory.SizingError, match="precision"):
        memory.state_bytes(4, "statevector", "half")


def test_limits_follow_from_memory():
    assert memory.max_qubits("statevector", "double", 20 * GiB) == 30
    assert memory.max_qubits("statevector", "single", 20 * GiB) == 31
    # capacity grows with ranks: each doubling holds one more qubit (an eighth-share receive buffer)
    assert [memory.max_qubits("statevector", "double", 20 * GiB, ranks=r) for r in (2, 4, 8)] == [31, 32, 33]
    assert memory.max_qubits("density_matrix", "double", 20 * GiB) == 15
    assert memory.min_ranks(30, "double", 16 * GiB, max_ranks=8) == 2
    assert memory.distributed_layout(28, 2) == (24, 23)  # chunk_swap_buffer_qubits = b - 1: one exchange at a time
    assert memory.distributed_layout(10, 4) == (6, 5)  # small states: chunks of at least 6 qubits
    assert memory.distributed_layout(4, 2) == (3, 2)
    assert memory.blocking_qubits(28, 2) == 24
    assert memory.blocking_qubits(28, 2, "double", mem_per_rank_bytes=2 * GiB + 300 * 2**20) == 21  # buffer fits


def test_28_qubits_distributed_admitted_on_2x16_gib(tmp_path):
    prof = _profile(tmp_path)
    plan = plan_process(prof, {"nodes": 2, "processespernode": 1, "mem": "16Gi"}, _sweep(), mpi=True, maxexectime=-1)
    assert plan.ranks == 2
    # single process, whole node: fits too (4.8 GiB); as a 2-rank task farm each rank holds its own state
    plan_process(prof, {"nodes": 1, "mem": "16Gi"}, _sweep(parallel="tasks"), mpi=True, maxexectime=-1)


def test_28_qubits_refused_with_numbers_where_it_does_not_fit(tmp_path):
    prof = _profile(tmp_path)
    with pytest.raises(PlanError) as ei:  # 2 ranks of one state, but the job asks 2 GiB per node
        plan_process(prof, {"nodes": 2, "processespernode": 1, "mem": "2Gi"}, _sweep(), mpi=True, maxexectime=-1)
    msg = str(ei.value)
    assert msg.startswith(
        "conditions.mem: 28-qubit statevector (double) over 2 ranks needs 2.5 GiB per rank; "
        "1 ranks/node x 2.5 GiB = 2.5 GiB > the 2 GiB per node the job asks for; "
        "set conditions.mem to at least 2560Mi"
    ), msg
    assert msg.endswith("would fit: at most 29 qubits with statevector (double) per rank; 30 in single precision"), msg
    # 2 GiB nodes (4 of them): one rank per node over 2 nodes is too much; the refusal names what fits
    small = _profile(tmp_path, mem=2)
    with open(small, "a") as fh:
        fh.write("max_nodes: 4\n")
    Path(small).write_text(Path(small).read_text().replace("max_nodes: 2\n", "", 1))
    with pytest.raises(PlanError) as ei:
        plan_process(small, {"nodes": 2, "processespernode": 1}, _sweep(), mpi=True, maxexectime=-1)
    msg = str(ei.value)
    assert msg.startswith(
        "conditions.processespernode: 28-qubit statevector (double) over 2 ranks needs 2.5 GiB "
        "per rank, more than the 2 GiB of a whole node of profile two-mpi-2"
    ), msg
    assert msg.endswith(
        "would fit: at most 26 qubits with statevector (double) per rank; 27 in single precision; "
        "28 qubits over 4 ranks (4 nodes x 1 per node, 1.38 GiB each; parallel: statevector)"
    ), msg
    plan_process(small, {"nodes": 4, "processespernode": 1, "mem": "2Gi"}, _sweep(), mpi=True, maxexectime=-1)
    # without an MPI Aer one state cannot be split: refused, naming the profile field and the build script
    with pytest.raises(PlanError, match=r"^conditions.aer: .*aer: pypi.*scripts/build-aer-mpi.sh"):
        plan_process(_profile(tmp_path, aer="pypi"), {"nodes": 2}, _sweep(), mpi=True, maxexectime=-1)


def test_gpu_sizing(tmp_path):
    gpu = tmp_path / "gpu.yaml"
    gpu.write_text(LOCAL_2x16.format(aer="gpu") + "gpus_per_node: 1\ngpu_vendor: nvidia\ngpu_mem_gb: 40\n")
    plan_process(str(gpu), {"gpu": {"count": 1}}, _sweep(30, "tasks", device="GPU"), mpi=True, maxexectime=-1)
    with pytest.raises(PlanError, match=r"^conditions.gpu.count: 32-qubit .* per GPU > the 40 GiB"):
        plan_process(str(gpu), {"gpu": {"count": 1}}, _sweep(32, "tasks", device="GPU"), mpi=True, maxexectime=-1)
    with pytest.raises(PlanError, match=r"^conditions.gpu.count: device: GPU but profile .* has no GPUs"):
        plan_process(_profile(tmp_path), {}, _sweep(20, "tasks", device="GPU"), mpi=True, maxexectime=-1)


def test_parallel_experiments_only_as_far_as_their_states_fit():
    """Aer simulates the bound points of one run side by side, a state each: the model counts them,
    and the runner allows only as many as fit what the job may use (a Slurm cgroup, not the node)."""
    one = memory.footprint(26, "statevector").rank_bytes
    two = memory.footprint(26, "statevector", experiments=2).rank_bytes
    assert two - one == one - memory.BASE_PROCESS_BYTES  # a second state and its work space
    kw = {"threads": 2}
    assert memory.parallel_experiments(26, "statevector", budget_bytes=two, **kw) == 2
    assert memory.parallel_experiments(26, "statevector", budget_bytes=two - 1, **kw) == 1
    assert memory.parallel_experiments(26, "statevector", budget_bytes=one // 2, **kw) == 1  # never 0
    assert memory.parallel_experiments(26, "statevector", budget_bytes=10 * two, threads=8) == 8
    assert memory.parallel_experiments(26, "statevector", budget_bytes=10 * two, threads=8, ranks=2) == 1
    # MPS and tableaux: the state is not what fills memory; a GPU keeps it on the device
    assert memory.parallel_experiments(100, memory.MPS, budget_bytes=1, **kw) == 2
    assert memory.parallel_experiments(30, "statevector", budget_bytes=1, gpus_per_rank=1, **kw) == 2
    # the default budget is this process's: a state larger than the machine gets one experiment
    assert memory.parallel_experiments(40, "statevector", threads=4) == 1
    assert memory.parallel_experiments(10, "statevector", threads=4) == 4
