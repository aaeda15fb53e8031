"""Fuzz study files: random mappings (parse_study) and random file text (load_study, YAML and TOML).
Every input is either a valid Study or a StudyError whose message names the file and a field;
no other exception escapes, and a valid study's name can never leave its directory."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hpcq.client.study import Study, StudyError, load_study, parse_study
from tests.fuzz.strategies import CI_EXAMPLES, FUZZ, LONG_EXAMPLES, evil, json_val, text

STUDY_FIELDS = [
    "name",
    "mode",
    "colony",
    "executor",
    "resources",
    "queue_allowance",
    "maxretries",
    "maxwaittime",
    "priority",
    "sweep",
]
FIELD_RE = re.compile(
    "|".join(
        STUDY_FIELDS
        + [
            "problems",
            "noise",
            "optimizers",
            "ansatze",
            "seeds",
            "shots",
            "study",
            "kind",
            "sweep",
            "mapping",
            "unknown",
            "evil",
        ]
    )
)

resources = st.fixed_dictionaries(
    {},
    optional={
        "nodes": st.one_of(st.integers(-5, 500), text),
        "ranks_per_node": st.integers(-5, 500),
        "cpus_per_rank": st.integers(-5, 5000),
        "mem": st.one_of(st.sampled_from(["2Gi", "2048Mi", "1T", "-1Gi"]), text),
        "walltime": st.integers(-5, 10**8),
        "gpus": st.integers(-1, 40),
        "evil": text,
    },
)
sweep = st.fixed_dictionaries(
    {
        "problems": st.one_of(
            st.just([{"kind": "h2", "bond_length": 0.735}]),
            st.lists(
                st.dictionaries(
                    st.sampled_from(["kind", "bond_length", "n_qubits", "J", "h", "mapping"]), json_val, max_size=4
                ),
                max_size=3,
            ),
            json_val,
        )
    },
    optional={
        "noise": st.lists(
            st.fixed_dictionaries({"kind": st.sampled_from(["none", "depolarizing", "x"]), "p": st.floats(-1, 2)}),
            max_size=3,
        ),
        "seeds": st.lists(st.integers(-3, 2**33), max_size=3),
        "shots": st.integers(-3, 10**8),
        "study": text,
    },
)
study_dict = st.fixed_dictionaries(
    {
        "name": st.one_of(st.sampled_from(["h2-noise", "../../etc/passwd", "a/b", ".hidden", "ok.1", ""]), text, evil),
        "sweep": st.one_of(sweep, json_val),
    },
    optional={
        "mode": st.sampled_from(["workflow", "sweep", "single", "shell"]),
        "resources": resources,
        "maxretries": st.integers(-3, 200),
        "priority": st.integers(-(10**6), 10**6),
        "colony": text,
        "executor": st.fixed_dictionaries({}, optional={"type": text, "names": st.lists(text, max_size=2)}),
        "queue_allowance": st.integers(-5, 10**7),
        "unknown": json_val,
    },
)
any_data = st.one_of(study_dict, json_val)


def _check(data) -> str:
    try:
        study = parse_study(data, "fuzz.yaml")
    except StudyError as exc:
        msg = str(exc)
        assert msg.startswith("fuzz.yaml: ") and (FIELD_RE.search(msg) or "mapping of fields" in msg), msg
        return "refused"
    assert isinstance(study, Study)
    assert "/" not in study.name and not study.name.startswith(".") and ".." not in study.name.split(".")
    return "accepted"


def _run_dicts(n: int) -> dict[str, int]:
    stats: dict[str, int] = {}

    @settings(FUZZ, max_examples=n)
    @given(any_data)
    def prop(data):
        r = _check(data)
        stats[r] = stats.get(r, 0) + 1

    prop()
    return stats


def _run_files(tmp_path, n: int) -> int:
    count = [0]

    @settings(FUZZ, max_examples=n)
    @given(
        st.one_of(st.text(max_size=300), study_dict.map(lambda d: __import__("yaml").safe_dump(d))),
        st.sampled_from([".yaml", ".toml", ".json"]),
    )
    def prop(body, suffix):
        path = tmp_path / f"study{suffix}"
        path.write_bytes(body.encode("utf-8", "replace"))
        try:
            load_study(path)
        except StudyError as exc:
            assert str(path) in str(exc)
        count[0] += 1

    prop()
    return count[0]


def test_fuzz_study_dicts():
    stats = _run_dicts(CI_EXAMPLES)
    assert stats.get("refused", 0) > 0


def test_fuzz_study_files(tmp_path):
    assert _run_files(tmp_path, max(50, CI_EXAMPLES // 2)) > 0


def test_traversal_names_refused():
    base = {"sweep": {"problems": [{"kind": "h2", "bond_length": 0.735}]}}
    for name in ["../../etc/passwd", "a/b", "..", ".", "/abs", "x\n#SBATCH", "$(id)", "a b"]:
        with pytest.raises(StudyError, match="name"):
            parse_study({**base, "name": name})


@pytest.mark.slow
def test_fuzz_studies_long(tmp_path):
    stats = _run_dicts(LONG_EXAMPLES)
    files = _run_files(tmp_path, max(1000, LONG_EXAMPLES // 5))
    print(f"study fuzz: {sum(stats.values())} mappings {stats}, {files} files")
    assert sum(stats.values()) >= min(LONG_EXAMPLES, 10_000)
