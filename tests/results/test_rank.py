import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hpcq.results.rank import RankError, make_spec, rank

NAN = float("nan")


def frame(**cols):
    n = len(next(iter(cols.values())))
    return pd.DataFrame({"task_id": [f"t{i}" for i in range(n)], "file": "f.h5", **cols})


def test_single_metric_min_and_max():
    df = frame(err=[0.3, 0.1, 0.2])
    assert list(rank(df, make_spec(["err:min"]))["task_id"]) == ["t1", "t2", "t0"]
    assert list(rank(df, make_spec(["err:max"]))["task_id"]) == ["t0", "t2", "t1"]


def test_ties_share_the_min_position_and_are_listed_by_task_id():
    df = frame(err=[0.2, 0.1, 0.2, 0.1, 0.5])
    r = rank(df, make_spec(["err:min"]))
    assert list(r["task_id"]) == ["t1", "t3", "t0", "t2", "t4"]
    assert list(r["position"]) == [1, 1, 3, 3, 5]


def test_nan_is_last_in_both_directions():
    df = frame(err=[NAN, 0.1, 0.3, NAN])
    for d in ("min", "max"):
        r = rank(df, make_spec([f"err:{d}"]))
        assert list(r["task_id"][-2:]) == ["t0", "t3"]
        assert list(r["position"]) == [1, 2, 3, 3]
        assert r["score"][-2:].isna().all()


def test_weighted_normalises_each_metric_and_applies_weights():
    # err spans 0..10, jsd spans 0..1: without normalisation err would dominate
    df = frame(err=[0.0, 10.0, 5.0], jsd=[1.0, 0.0, 0.5])
    r = rank(df, make_spec(["err:min", "jsd:min"], "0.3,0.7"))
    assert list(r["task_id"]) == ["t1", "t2", "t0"]
    assert r["score"].tolist() == pytest.approx([0.3, 0.5, 0.7])
    r = rank(df, make_spec(["err:min", "jsd:min"], "0.7,0.3"))
    assert list(r["task_id"]) == ["t0", "t2", "t1"]
    # weights are scaled to sum 1, so 7,3 is the same ranking as 0.7,0.3
    r2 = rank(df, make_spec(["err:min", "jsd:min"], "7,3"))
    assert r2["score"].tolist() == pytest.approx(r["score"].tolist())


def test_weighted_nan_in_any_metric_is_last_and_constant_metric_is_neutral():
    df = frame(err=[0.2, 0.1, 0.3], jsd=[0.5, NAN, 0.5])
    r = rank(df, make_spec(["err:min", "jsd:max"]))
    assert list(r["task_id"]) == ["t0", "t2", "t1"]
    assert list(r["position"]) == [1, 2, 3]


def test_lexicographic_breaks_ties_with_the_next_metric():
    df = frame(acc=[1, 1, 0, 1], err=[0.3, 0.1, 0.0, NAN])
    r = rank(df, make_spec(["acc:max", "err:min"], mode="lexicographic"))
    assert list(r["task_id"]) == ["t1", "t0", "t3", "t2"]
    assert list(r["position"]) == [1, 2, 3, 4]
    assert r["score"].isna().all()


def test_aliases_and_bool_metrics():
    df = frame(abs_error=[0.2, 0.1], chemical_accuracy=pd.array([False, True], dtype="boolean"))
    assert list(rank(df, make_spec(["energy_error"]))["task_id"]) == ["t1", "t0"]
    assert list(rank(df, make_spec(["chemical_accuracy:max"]))["task_id"]) == ["t1", "t0"]


@pytest.mark.parametrize(
    "by,weights,mode,msg",
    [
        ([], None, "weighted", "at least one metric"),
        (["err:up"], None, "weighted", "'min' or 'max'"),
        (["err", "jsd"], "1", "weighted", "one weight per --by"),
        (["err"], "a,b", "weighted", "comma-separated numbers"),
        (["err"], "-1", "weighted", ">= 0"),
        (["err"], "1", "lexicographic", "only applies to --mode weighted"),
        (["err"], None, "best", "--mode"),
    ],
)
def test_bad_specs_name_the_option(by, weights, mode, msg):
    with pytest.raises(RankError, match=msg):
        make_spec(by, weights, mode)


def test_unknown_or_text_metric_lists_the_numeric_ones():
    df = frame(err=[0.1], problem=["h2"])
    with pytest.raises(RankError, match="no such metric; choose one of err"):
        rank(df, make_spec(["nope"]))
    with pytest.raises(RankError, match="not a numeric column"):
        rank(df, make_spec(["problem"]))


def test_empty_frame():
    r = rank(frame(err=[]).astype({"err": float}), make_spec(["err"]))
    assert r.empty and "position" in r


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.one_of(st.integers(-40, 40).map(lambda x: x / 8), st.just(NAN)), min_size=1, max_size=30),
    st.sampled_from(["min", "max"]),
    st.sampled_from(["weighted", "lexicographic"]),
)
def test_ranking_properties(values, direction, mode):
    # (values on a grid: weighted scores of values 1e-300 apart are equal in floating point)
    df = frame(err=values)
    r = rank(df, make_spec([f"err:{direction}"], mode=mode))
    v = r["err"].to_numpy()
    present = v[~np.isnan(v)]
    # a permutation, best first, NaN last
    assert sorted(r["task_id"]) == sorted(df["task_id"])
    assert np.all(np.isnan(v[len(present) :]))
    assert np.all(np.diff(present) >= 0) if direction == "min" else np.all(np.diff(present) <= 0)
    # positions: 1-based 'min' ranks, equal exactly where the values are equal
    pos = r["position"].to_numpy()
    assert pos[0] == 1 and np.all(np.diff(pos) >= 0)
    for i in range(1, len(v)):
        same = (v[i] == v[i - 1]) or (math.isnan(v[i]) and math.isnan(v[i - 1]))
        assert (pos[i] == pos[i - 1]) == same
        if not same:
            assert pos[i] == i + 1
