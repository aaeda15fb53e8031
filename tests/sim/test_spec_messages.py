"""Small items of issue 25: typos inside a problem get the documented message, and durations of a
noise model take units or refuse a bare number no qubit has."""

import pytest

from hpcq.client.study import StudyError, parse_study
from hpcq.sim.spec import NoiseSpec, parse_sweep

H2 = {"kind": "h2", "bond_length": 0.735}
DOC = "unknown field; remove it or check its spelling (docs/studies.md lists the fields)"


def test_a_typo_inside_a_problem_gets_the_documented_message():
    with pytest.raises(ValueError) as e:
        parse_sweep({"problems": [{"kind": "h2", "bond_lenght": 0.7}]})
    assert (
        str(e.value) == "problems[0].bond_lenght: unknown field (did you mean bond_length?); " + DOC.split("; ", 1)[1]
    )
    study = {"name": "t", "sweep": {"problems": [{"kind": "molecule", "geometry": "h2", "basis_set": "sto-3g"}]}}
    with pytest.raises(StudyError) as e:
        parse_study(study, "s.yaml")
    assert str(e.value) == f"s.yaml: sweep.problems[0].basis_set: {DOC}"
    assert "Extra inputs" not in str(e.value)
    with pytest.raises(
        ValueError, match=r"problems\[0\].bond_length: Input should be a valid number.*\(got 'abc'\); fix"
    ):
        parse_sweep({"problems": [{"kind": "h2", "bond_length": "abc"}]})


def test_t1_takes_units_and_a_bare_implausible_number_is_refused_with_the_fix():
    n = NoiseSpec(kind="thermal", t1="100us", t2="70 µs", gate_time_1q="35ns", gate_time_2q="0.3 us")
    assert (n.t1, n.t2, n.gate_time_1q, n.gate_time_2q) == (1e-4, 7e-5, 3.5e-8, 3e-7)
    assert NoiseSpec(kind="thermal", t1=100e-6, t2=70e-6) == NoiseSpec(kind="thermal", t1="100us", t2="70us")
    with pytest.raises(ValueError) as e:
        parse_sweep({"problems": [H2], "noise": [{"kind": "thermal", "t1": 100, "t2": 70e-6}]})
    assert str(e.value) == (
        "noise[0].t1: 100 s is implausible for t1 (a bare number is seconds); give the unit, e.g. "
        "t1: 100us or 100ns, or seconds such as 100e-6"
    )
    with pytest.raises(ValueError, match=r"noise\[0\].gate_time_2q: 300 s is implausible"):
        parse_sweep({"problems": [H2], "noise": [{"kind": "thermal", "t1": 1e-4, "t2": 1e-4, "gate_time_2q": 300}]})
    with pytest.raises(ValueError, match=r"noise\[0\].t1: '100 parsecs' is not a duration; write e.g. t1: 100us"):
        parse_sweep({"problems": [H2], "noise": [{"kind": "thermal", "t1": "100 parsecs", "t2": 1e-4}]})
    assert NoiseSpec(kind="thermal", t1="2s", t2="1s").t1 == 2.0  # long-lived qubits: with the unit
