"""Hypothesis strategies for hostile function specs (imported by the fuzz tests)."""

from __future__ import annotations

import json
import os

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from hpcq import functions

CI_EXAMPLES = int(os.environ.get("HPCQ_FUZZ_EXAMPLES", "200"))
LONG_EXAMPLES = int(os.environ.get("HPCQ_FUZZ_EXAMPLES", "10000"))
# no deadline (the machine is shared), no example database (CI starts clean), no health checks
# that trip on a live server being slow
FUZZ = settings(
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
)

SHELL_META = [
    "$(touch /tmp/hpcq-pwned)",
    "`id`",
    "; rm -rf ~",
    "| sh",
    "&& reboot",
    "\n#SBATCH --uid=0",
    "' \"",
    "${IFS}",
    "> /etc/passwd",
    "../../../../etc/shadow",
    "\x00",
    "%j%t%A",
]

evil = st.sampled_from(SHELL_META)
text = st.one_of(st.text(max_size=40), evil, st.builds(lambda a, b: a + b, st.text(max_size=10), evil))
names = st.one_of(
    st.sampled_from(sorted(functions.FUNCTIONS)),
    st.sampled_from(
        [
            "os.system",
            "subprocess.run",
            "builtins.eval",
            "hpcq.executor.selftest:echo",
            "",
            "__import__",
            "hpcq_echo ",
            "HPCQ_ECHO",
            "hpcq_echo;id",
        ]
    ),
    text,
)

json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True, allow_infinity=True), text
)
json_val = st.recursive(
    json_leaf, lambda c: st.one_of(st.lists(c, max_size=4), st.dictionaries(text, c, max_size=4)), max_leaves=12
)

# plausible-looking sweep params with random corruption
sweep_like = st.fixed_dictionaries(
    {
        "problems": st.lists(
            st.fixed_dictionaries(
                {"kind": st.sampled_from(["h2", "tfim", "heisenberg", "x"]), "n_qubits": st.integers(-3, 40)}
            ),
            max_size=2,
        ),
        "study": st.one_of(st.just("s"), text),
    },
    optional={
        "seeds": st.lists(st.integers(-5, 2**32), max_size=3),
        "shots": st.integers(-10, 10**8),
        "noise": st.lists(
            st.fixed_dictionaries({"kind": st.sampled_from(["none", "depolarizing"]), "p": st.floats(-1, 2)}),
            max_size=2,
        ),
    },
)

params_dict = st.one_of(
    st.dictionaries(text, json_val, max_size=4),
    st.fixed_dictionaries({"message": text}),
    st.fixed_dictionaries({"seconds": json_val}),
    sweep_like,
)


def _params_kwargs(d):
    return {"params": json.dumps(d, allow_nan=True)}


kwargs = st.one_of(
    params_dict.map(_params_kwargs),
    st.dictionaries(text, text, max_size=4),  # plain string kwargs
    st.dictionaries(text, st.lists(text, max_size=3), max_size=3),
    st.builds(lambda raw, extra: {"params": raw, **extra}, text, st.dictionaries(text, text, max_size=2)),
)

mem = st.one_of(st.just(""), st.sampled_from(["1Gi", "512Mi", "4Gi", "1Ti", "99999999Gi", "1G", "-1Gi", "0Mi"]), text)
cpu = st.one_of(st.just(""), st.sampled_from(["1000m", "2000m", "0m", "1", "1.5", "-1000m"]), text)
gpu = st.fixed_dictionaries({"name": text, "mem": mem, "count": st.integers(-2, 64), "nodecount": st.integers(-2, 64)})
conditions = st.fixed_dictionaries(
    {
        "nodes": st.integers(-2, 10_000),
        "processespernode": st.integers(-2, 10_000),
        "cpu": cpu,
        "mem": mem,
        "walltime": st.integers(-10, 10**9),
        "gpu": gpu,
        "processes": st.integers(-2, 100),
        "storage": text,
        "executornames": st.one_of(st.none(), st.lists(text, max_size=2)),
    }
)
env = st.dictionaries(
    st.one_of(st.sampled_from(["HPCQ_PROFILE", "code", "PATH", "LD_PRELOAD", "BASH_ENV"]), text), text, max_size=4
)
maxexectime = st.one_of(st.sampled_from([-1, 0, 1, 60, 3600, 10**9]), st.integers(-10, 10**10))

spec_fields = st.fixed_dictionaries(
    {"funcname": names, "kwargs": kwargs, "conditions": conditions, "env": env, "maxexectime": maxexectime}
)


def fuzz_strings(d) -> list[str]:
    """Every string inside a generated spec (to check none reaches the sbatch script)."""
    out: list[str] = []

    def walk(x):
        if isinstance(x, str):
            out.append(x)
        elif isinstance(x, dict):
            for k, v in x.items():
                walk(k)
                walk(v)
        elif isinstance(x, (list, tuple)):
            for v in x:
                walk(v)

    walk(d)
    return out


# near-valid specs: accepted by the catalog and the planner, hostile strings in every free-text slot
near_valid = st.fixed_dictionaries(
    {
        "funcname": st.sampled_from(["hpcq_echo", "hpcq_fail"]),
        "kwargs": st.fixed_dictionaries({"message": text}).map(_params_kwargs),
        "conditions": st.fixed_dictionaries(
            {
                "nodes": st.sampled_from([0, 1]),
                "processespernode": st.sampled_from([0, 1]),
                "cpu": st.sampled_from(["", "1000m", "2000m"]),
                "mem": st.sampled_from(["", "1Gi", "512Mi"]),
                "walltime": st.integers(0, 7200),
                "gpu": st.fixed_dictionaries({"name": text, "mem": text, "count": st.just(0), "nodecount": st.just(0)}),
                "storage": text,
                "executornames": st.one_of(st.none(), st.lists(text, max_size=2)),
            }
        ),
        "env": env,
        "maxexectime": st.sampled_from([-1, 7200, 10**6]),
    }
)
any_spec = st.one_of(spec_fields, near_valid)
