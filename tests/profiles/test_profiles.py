"""Site profiles: schema, lookup, conditions -> resources -> submitit parameters, sizing."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
import submitit
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from submitit.slurm.slurm import _make_sbatch_string

from hpcq.cli import main
from hpcq.executor import sizing
from hpcq.executor.profiles import (
    SHIPPED_DIR,
    ConditionsError,
    JobResources,
    ProfileError,
    list_profiles,
    load_profile,
    parse_profile,
    resolve_resources,
    submitit_params,
)

REQUIRED = [
    "local",
    "lumi-c",
    "lumi-g",
    "leonardo-booster",
    "leonardo-dcgp",
    "mn5-gpp",
    "mn5-acc",
    "karolina",
    "meluxina",
    "vega",
    "deucalion",
    "discoverer",
    "jupiter",
]

# A FunctionSpec.conditions dict exactly as the embedded/real server returns it for a spec that set
# nothing: zero values, "0m" cpu, "0Mi" mem/storage, an empty gpu object.
SERVER_EMPTY = {
    "colonyname": "c",
    "executornames": None,
    "executortype": "hpcq",
    "dependencies": [],
    "nodes": 0,
    "cpu": "0m",
    "processes": 0,
    "processespernode": 0,
    "mem": "0Mi",
    "storage": "0Mi",
    "gpu": {"name": "", "mem": "0Mi", "count": 0, "nodecount": 0},
    "walltime": 0,
}


def lumi_c():
    return load_profile("lumi-c", {"account": "project_465000123"})


# --- shipped profiles --------------------------------------------------------------------------


def test_every_required_profile_ships_and_validates():
    names = {p.name for p in list_profiles()}
    assert set(REQUIRED) <= names
    for p in list_profiles():
        assert p.source, p.name
        assert Path(p.path).parent == SHIPPED_DIR
        assert p.default_walltime_s <= p.max_walltime_s
        if p.account_required:
            assert "account" in p.verify and not p.account, p.name  # never ship a real project id
        if p.gpus_per_node:
            assert p.gpu_vendor != "none"


def test_gpu_flag_styles_and_sizes_of_a_few_sites():
    g = load_profile("lumi-g")
    assert (g.partition, g.gpus_per_node, g.gpu_flag_style, g.gpu_vendor) == ("standard-g", 8, "gpus-per-node", "amd")
    b = load_profile("leonardo-booster")
    assert (b.partition, b.cores_per_node, b.gpus_per_node, b.gpu_flag_style) == ("boost_usr_prod", 32, 4, "gres")
    assert load_profile("lumi-c").max_walltime_s == 172800
    loc = load_profile("local")
    assert (loc.partition, loc.cores_per_node, loc.max_nodes, loc.mpi) == ("debug", 8, 3, "pmi2")


def test_cli_list_show_check():
    r = CliRunner().invoke(main, ["profiles", "list"])
    assert r.exit_code == 0, r.output
    for name in REQUIRED:
        assert name in r.output
    r = CliRunner().invoke(
        main,
        [
            "profiles",
            "show",
            "leonardo-booster",
            "--set",
            "account=EUHPC_D12_345",
            "--conditions",
            '{"gpu": {"count": 2}, "walltime": 600}',
        ],
    )
    assert r.exit_code == 0, r.output
    assert '"slurm_gres": "gpu:2"' in r.output and '"slurm_account": "EUHPC_D12_345"' in r.output
    r = CliRunner().invoke(main, ["profiles", "show", "lumi-c", "--conditions", '{"walltime": 900000}'])
    assert r.exit_code == 1 and "conditions.walltime" in r.output
    r = CliRunner().invoke(main, ["profiles", "check"])
    assert r.exit_code == 0, r.output
    assert r.output.count("ok ") == len(list_profiles())


# --- lookup and schema errors ----------------------------------------------------------------------


def test_user_profile_overrides_shipped_and_paths_work(tmp_path, monkeypatch):
    monkeypatch.setenv("HPCQ_CONFIG_DIR", str(tmp_path))
    (tmp_path / "profiles").mkdir()
    text = (
        (SHIPPED_DIR / "lumi-c.yaml").read_text().replace("account: {value: null", "account: {value: project_465000999")
    )
    (tmp_path / "profiles" / "lumi-c.yaml").write_text(text)
    (tmp_path / "profiles" / "mine.yaml").write_text(
        "source: me\npartition: p1\ncores_per_node: 4\nmem_per_node_gb: 8\nmax_walltime_s: 600\n"
        "default_walltime_s: 60\n"
    )
    assert load_profile("lumi-c").account == "project_465000999"
    assert load_profile("mine").partition == "p1"
    assert load_profile(str(tmp_path / "profiles" / "mine.yaml")).name == "mine"
    r = CliRunner().invoke(main, ["profiles", "check", "mine", str(tmp_path / "profiles" / "lumi-c.yaml")])
    assert r.exit_code == 0 and r.output.count("ok ") == 2, r.output


def test_a_broken_user_profile_is_reported_by_list_and_check(tmp_path, monkeypatch):
    monkeypatch.setenv("HPCQ_CONFIG_DIR", str(tmp_path))
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "broken.yaml").write_text(BASE.replace("cores_per_node: 4", "cores_per_node: -4"))
    r = CliRunner().invoke(main, ["profiles", "list"])
    assert r.exit_code == 1 and "broken.yaml" in r.output and "cores_per_node" in r.output, r.output
    r = CliRunner().invoke(main, ["profiles", "check"])
    assert r.exit_code == 1, r.output
    assert "FAIL broken: profile:" in r.output and "cores_per_node: Input should be greater than 0" in r.output
    assert r.output.count("ok ") == len(list(SHIPPED_DIR.glob("*.yaml")))  # the shipped ones still pass


def test_unknown_profile_names_the_places_searched_and_the_known_ones(tmp_path, monkeypatch):
    monkeypatch.setenv("HPCQ_CONFIG_DIR", str(tmp_path))
    with pytest.raises(ProfileError) as ei:
        load_profile("nope")
    msg = str(ei.value)
    assert msg.startswith("profile: unknown profile 'nope': no nope.yaml in ")
    assert str(tmp_path / "profiles") in msg and str(SHIPPED_DIR) in msg  # both places searched
    assert "lumi-c" in msg and f"write {tmp_path / 'profiles' / 'nope.yaml'}" in msg  # the fix
    with pytest.raises(ProfileError, match="no profile file"):
        load_profile("/nonexistent/x.yaml")


BASE = "source: s\npartition: p\ncores_per_node: 4\nmem_per_node_gb: 8\nmax_walltime_s: 600\ndefault_walltime_s: 60\n"


@pytest.mark.parametrize(
    "extra, field",
    [
        ("cores_per_node: 0\n", "cores_per_node"),
        ("partiton: x\n", "partiton"),  # typo: extra keys are refused
        ("partition: 'a b'\n", "partition"),
        ("account: 'x;rm -rf /'\n", "account"),
        ("modules: ['ok', 'bad module']\n", "modules"),
        ('setup: ["echo a\\nrm -rf /"]\n', "setup"),
        ("srun_args: ['cpu-bind=none']\n", "srun_args"),
        ("gpu_flag_style: gpus\n", "gpu_flag_style"),
        ("gpus_per_node: 2\n", "gpu_vendor"),
        ("max_walltime_s: 30\n", "default_walltime_s"),
        ("mpi: 'pmi2; id'\n", "mpi"),
        ("env: {'A B': x}\n", "env"),
        ("account: {value: x, verfy: true}\n", "verfy"),
    ],
)
def test_bad_profiles_name_the_field(extra, field):
    with pytest.raises(ProfileError) as ei:
        parse_profile(BASE + extra, "bad.yaml")
    assert field in str(ei.value) and "bad.yaml" in str(ei.value)


def test_names_from_a_process_spec_cannot_be_paths(tmp_path):
    secret = tmp_path / "secret.yaml"
    secret.write_text("key: [SECRET-TEXT\n")
    with pytest.raises(ProfileError) as ei:
        load_profile(str(secret))  # an operator's path: allowed, but the error never echoes the text
    assert "SECRET-TEXT" not in str(ei.value) and "line" in str(ei.value)
    for bad in (str(secret), "../../etc/passwd", "x.yaml", "Local", ".hidden"):
        with pytest.raises(ProfileError, match="is not a profile name"):
            load_profile(bad, allow_path=False)
    assert load_profile("local", allow_path=False).name == "local"


def test_not_yaml_and_not_mapping():
    with pytest.raises(ProfileError, match="not valid YAML"):
        parse_profile("a: [", "x.yaml")
    with pytest.raises(ProfileError, match="expected a mapping"):
        parse_profile("- 1\n", "x.yaml")


# --- resolve_resources ------------------------------------------------------------------------------


def test_defaults_from_server_shaped_empty_conditions():
    p = load_profile("local")
    for cond in ({}, None, SERVER_EMPTY):
        r = resolve_resources(p, cond)
        assert (r.nodes, r.tasks_per_node, r.cpus_per_task, r.gpus_per_node) == (1, 1, 1, 0)
        assert r.walltime_s == p.default_walltime_s
        assert r.mem_gb == pytest.approx(15.625 / 8)  # one core's share of the node
        assert (r.partition, r.account, r.qos) == ("debug", None, None)
        assert r.srun_args == ["--kill-on-bad-exit=1", "--mpi=pmi2"] and "export OMP_NUM_THREADS=1" in r.setup


def test_full_conditions_map_to_slurm_numbers():
    p = lumi_c()
    cond = dict(SERVER_EMPTY, nodes=4, processespernode=8, cpu="16000m", mem="204800Mi", walltime=5400)
    r = resolve_resources(p, cond)
    assert (r.nodes, r.tasks_per_node, r.cpus_per_task, r.ranks) == (4, 8, 16, 32)
    assert r.mem_gb == 200 and r.walltime_s == 5400
    params = submitit_params(r, p)
    assert params["timeout_min"] == 90 and params["mem_gb"] == 200.0
    assert params["slurm_partition"] == "standard" and params["slurm_account"] == "project_465000123"
    assert params["slurm_exclusive"] is True
    assert params["slurm_srun_args"] == ["--kill-on-bad-exit=1", "--mpi=cray_shasta"]
    assert params["slurm_setup"][:3] == ["module load LUMI/24.03", "module load partition/C", "module load cray-python"]
    assert "export OMP_NUM_THREADS=16" in params["slurm_setup"]


def test_millicores_round_up_and_processes_split_over_nodes():
    p = load_profile("local")
    r = resolve_resources(p, {"cpu": "1500m", "nodes": 2, "processes": 6})
    assert (r.cpus_per_task, r.tasks_per_node) == (2, 3)
    assert resolve_resources(p, {"mem": "2Gi"}).mem_gb == 2
    assert resolve_resources(p, {"mem": "1536Mi"}).mem_gb == 1.5
    assert resolve_resources(p, {"walltime": 61}).walltime_s == 61
    assert submitit_params(resolve_resources(p, {"walltime": 61}), p)["timeout_min"] == 2  # never shorter


def test_gpu_flags_gres_and_gpus_per_node():
    b = load_profile("leonardo-booster", {"account": "EUHPC_D12_345"})
    pb = submitit_params(resolve_resources(b, {"gpu": {"count": 2, "name": "A100", "mem": "40960Mi"}}), b)
    assert pb["slurm_gres"] == "gpu:2" and "slurm_gpus_per_node" not in pb and "gpus_per_node" not in pb
    g = load_profile("lumi-g", {"account": "project_465000123"})
    pg = submitit_params(resolve_resources(g, {"gpu": {"count": 8}}), g)
    assert pg["slurm_gpus_per_node"] == 8 and "slurm_gres" not in pg
    assert "slurm_gpus_per_node" not in submitit_params(resolve_resources(g, {}), g)


@pytest.mark.parametrize(
    "cond, field, words",
    [
        ({"walltime": 172801}, "conditions.walltime", "172801 s exceeds the profile lumi-c max of 172800 s"),
        ({"nodes": 513}, "conditions.nodes", "max of 512"),
        ({"processespernode": 129}, "conditions.processespernode", "128 cores"),
        ({"processespernode": 8, "cpu": "17000m"}, "conditions.cpu", "8 ranks/node x 17 cores = 136 cores"),
        ({"mem": "300Gi"}, "conditions.mem", "224 GiB"),
        ({"gpu": {"count": 1}}, "conditions.gpu.count", "no GPUs"),
        ({"gpu": {"name": "A100", "count": 0}}, "conditions.gpu", "no GPUs"),
        ({"nodes": -1}, "conditions.nodes", "negative"),
        ({"walltime": -5}, "conditions.walltime", "negative"),
        ({"nodes": "two"}, "conditions.nodes", "not a whole number"),
        ({"nodes": True}, "conditions.nodes", "not a whole number"),
        ({"cpu": "4"}, "conditions.cpu", "'4000m'"),
        ({"cpu": "4 cores"}, "conditions.cpu", "millicores"),
        ({"cpu": 4}, "conditions.cpu", "millicores"),
        ({"cpu": "-1000m"}, "conditions.cpu", "negative"),
        ({"mem": "2048MB"}, "conditions.mem", "Mi"),
        ({"mem": "2gi"}, "conditions.mem", "case matters"),
        ({"mem": 2048}, "conditions.mem", "unit"),
        ({"gpu": "1"}, "conditions.gpu", "mapping"),
        ({"nodes": 2, "processes": 3}, "conditions.processes", "divide evenly"),
        ({"nodes": 2, "processespernode": 2, "processes": 3}, "conditions.processes", "!= nodes 2"),
    ],
)
def test_impossible_conditions_name_the_field(cond, field, words):
    with pytest.raises(ConditionsError) as ei:
        resolve_resources(lumi_c(), cond)
    msg = str(ei.value)
    assert msg.startswith(field + ":"), msg
    assert words in msg, msg


def test_gpu_limits_on_a_gpu_profile():
    b = load_profile("leonardo-booster", {"account": "A"})
    with pytest.raises(ConditionsError, match=r"^conditions.gpu.count: 5 GPUs per node > 4"):
        resolve_resources(b, {"gpu": {"count": 5}})
    with pytest.raises(ConditionsError, match=r"^conditions.gpu.mem: 80.0 GiB > 64 GiB"):
        resolve_resources(b, {"gpu": {"count": 1, "mem": "80Gi"}})
    with pytest.raises(ConditionsError, match=r"^conditions.gpu.name: 'MI250X' does not match"):
        resolve_resources(b, {"gpu": {"count": 1, "name": "MI250X"}})


def test_missing_account_or_qos_is_a_profile_error_with_the_fix():
    with pytest.raises(ProfileError) as ei:
        resolve_resources(load_profile("lumi-c"), {})
    assert str(ei.value).startswith("account: profile lumi-c needs a Slurm account")
    assert "profiles/lumi-c.yaml" in str(ei.value) and "project_465000123" in str(ei.value)
    with pytest.raises(ProfileError, match=r"^qos: profile discoverer needs a Slurm QOS"):
        resolve_resources(load_profile("discoverer", {"account": "acc"}), {})
    ok = load_profile("discoverer", {"account": "acc", "qos": "q1"})
    assert submitit_params(resolve_resources(ok, {}), ok)["slurm_qos"] == "q1"


def test_submitit_accepts_every_key():
    """The parameter names are real AutoExecutor parameters (update_parameters raises on unknown)."""
    for prof in [
        load_profile("local"),
        lumi_c(),
        load_profile("leonardo-booster", {"account": "A"}),
        load_profile("lumi-g", {"account": "A"}),
        load_profile("mn5-acc", {"account": "A"}),
    ]:
        cond = {"gpu": {"count": 1}} if prof.gpus_per_node else {}
        params = submitit_params(resolve_resources(prof, cond), prof)
        ex = submitit.AutoExecutor(folder="/tmp/hpcq-test-submitit-unused", cluster="debug")
        ex.update_parameters(**params)  # NameError/AssertionError on a wrong name or type


def _sbatch_text(params: dict, tmp_path) -> str:
    """The sbatch script submitit would write for these AutoExecutor parameters."""
    conv = {"timeout_min": "time", "mem_gb": "mem", "tasks_per_node": "ntasks_per_node"}
    kw = {}
    for k, v in params.items():
        k = k[len("slurm_") :] if k.startswith("slurm_") else conv.get(k, k)
        kw[k] = f"{int(v * 1024)}MB" if k == "mem" else v
    return _make_sbatch_string(command="python -m x", folder=tmp_path, **kw)


MARK = "PWN"
_chars = st.text(alphabet=st.sampled_from(list("0123456789mMiGKT;|&$`'\"\\ \n()-.")), max_size=8)
hostile = st.one_of(_chars, st.builds(lambda a, b: a + MARK + b, _chars, _chars))
cond_values = st.one_of(st.integers(-3, 300), hostile, st.none(), st.booleans(), st.floats(allow_nan=False))


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            ["nodes", "cpu", "mem", "walltime", "processespernode", "processes", "storage", "label", "gpu"]
        ),
        st.one_of(cond_values, st.dictionaries(st.sampled_from(["count", "name", "mem"]), cond_values, max_size=3)),
        max_size=6,
    )
)
def test_no_spec_text_reaches_the_job_script(tmp_path_factory, cond):
    prof = load_profile("leonardo-booster", {"account": "EUHPC_D12_345"})
    try:
        res = resolve_resources(prof, cond)
    except ConditionsError:
        return
    params = submitit_params(res, prof)
    blob = json.dumps(params)
    assert MARK not in blob
    for k, v in params.items():
        assert type(v) in (int, float, bool, str, list), k
        if isinstance(v, str):
            assert re.fullmatch(r"[A-Za-z0-9_.:+-]+", v), (k, v)
    script = _sbatch_text(params, tmp_path_factory.mktemp("sb"))
    assert MARK not in script
    for line in script.splitlines():
        if line.startswith("#SBATCH"):
            assert re.fullmatch(r"#SBATCH --[a-z-]+(=[A-Za-z0-9_.:%@/+-]+)?", line), line


def test_module_and_env_values_are_quoted():
    p = parse_profile(BASE + "modules: ['a/1.0']\nenv: {MSG: 'x; rm -rf $HOME'}\n", "q.yaml")
    lines = resolve_resources(p, {}).setup
    assert "module load a/1.0" in lines
    assert "export MSG='x; rm -rf $HOME'" in lines
    assert shlex.split(lines[1]) == ["export", "MSG=x; rm -rf $HOME"]


# --- sizing -----------------------------------------------------------------------------------------


def test_memory_model():
    # THE model lives in hpcq.sim.memory (tests/scale/test_memory.py); sizing compares it with nodes
    from hpcq.sim import memory

    assert memory.state_bytes(14, "density_matrix") == 16 * 4**14  # 4.3 GB
    assert sizing.memory is memory and not hasattr(sizing, "memory_bytes")


def test_check_fits_refuses_with_numbers():
    from hpcq.sim.memory import rank_bytes

    p = load_profile("local")
    need = rank_bytes(14, "density_matrix")  # ~4.5 GiB with overhead
    res = resolve_resources(p, {"processespernode": 8})
    with pytest.raises(ConditionsError) as ei:
        sizing.check_fits(need, res, p, what="14 qubits density_matrix")
    msg = str(ei.value)
    assert msg.startswith(
        "conditions.processespernode: 14 qubits density_matrix needs 4.45 GiB per rank; "
        "8 ranks/node x 4.45 GiB = 35.6 GiB > 15.6 GiB of profile local's nodes"
    ), msg
    assert "at most 3 ranks per node" in msg
    with pytest.raises(ConditionsError, match=r"^conditions.processespernode: .* more than .* whole node"):
        sizing.check_fits(rank_bytes(16, "density_matrix"), resolve_resources(p, {}), p)
    # fits on the node but not in the memory asked for -> names conditions.mem and the value to set
    with pytest.raises(ConditionsError, match=r"^conditions.mem: .* set conditions.mem to at least \d+Mi"):
        sizing.check_fits(need, resolve_resources(p, {"mem": "1024Mi"}), p)
    sizing.check_fits(need, resolve_resources(p, {"mem": "6Gi"}), p)  # fits
    sizing.check_fits(rank_bytes(20, "statevector"), resolve_resources(p, {"processespernode": 4}), p)
    assert sizing.max_ranks_per_node(need, p) == 3


def test_check_fits_without_mem_flag_checks_the_node_only():
    from hpcq.sim.memory import rank_bytes

    p = load_profile("mn5-gpp", {"account": "a"})
    res = resolve_resources(p, {"processespernode": 1})
    assert "mem_gb" not in submitit_params(res, p)
    sizing.check_fits(rank_bytes(14, "density_matrix"), res, p)
    assert isinstance(res, JobResources)
