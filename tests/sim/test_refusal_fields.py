"""Every field a sizing refusal tells the user to set exists in the model it refers to.

The texts of hpcq/sim/memory.py and hpcq/executor/sizing.py are parsed (every string literal and
f-string outside docstrings, placeholders as ``{}``), their field hints picked out (``set X: v``,
``use X: v``, ``or X: v``, ``(X: v)``, ``set X to ...``, ``conditions.X``, a message that opens
with ``X: v``), and each is checked against its model: ``conditions.*`` against the ColonyOS spec
the server reads (hpcq.server.wire.normalise_spec), a hint next to "profile" against the site
Profile, everything else against the sweep (SweepParams, by ``model_validate``: the field must
not be an extra key and the suggested value must be accepted).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from hpcq.executor import sizing
from hpcq.server.wire import normalise_spec
from hpcq.sim import memory
from hpcq.sim.spec import SweepParams

PATH = r"[a-z_]+(?:\.[a-z_]+)*"
VALUE = r"(?:\{\}|[A-Za-z0-9_]+(?:/[A-Za-z0-9_]+)*)"
HINTS = (
    re.compile(rf"(?:^|\bset |\buse |\bor |\band |\bwith |\bhas |\bruns |\()(?P<path>{PATH}): (?P<value>{VALUE})"),
    re.compile(rf"\bset (?P<path>{PATH}) (?:to|x|accordingly|instead)\b"),
    re.compile(rf"\b(?P<path>conditions\.{PATH})"),
    re.compile(rf"\((?P<path>{PATH})\)"),  # a bare field name in brackets, e.g. "more ranks (distribute)"
)
PROFILE_BEFORE = re.compile(r"profile (?:\{\} )?(?:has|runs|with) $")  # "profile {} has aer: ..."
BASE = {"problems": [{"kind": "h2", "bond_length": 0.735}]}


def _text(node: ast.AST) -> str:
    if isinstance(node, ast.Constant):
        return node.value
    return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)  # JoinedStr


def messages(module) -> list[str]:
    """The module's string literals outside docstrings, implicit concatenation joined."""
    tree = ast.parse(Path(module.__file__).read_text())
    docs = {
        id(n.body[0].value)
        for n in ast.walk(tree)
        if isinstance(n, ast.Module | ast.FunctionDef | ast.ClassDef)
        and n.body
        and isinstance(n.body[0], ast.Expr)
        and isinstance(n.body[0].value, ast.Constant)
    }
    out = []
    for n in ast.walk(tree):
        inner = isinstance(n, ast.Constant) and any(
            n is v for p in ast.walk(tree) if isinstance(p, ast.JoinedStr) for v in p.values
        )
        if id(n) in docs or inner:
            continue
        if (isinstance(n, ast.Constant) and isinstance(n.value, str)) or isinstance(n, ast.JoinedStr):
            out.append(_text(n))
    return [m for m in out if " " in m]  # prose, not keys


def hints(text: str) -> list[tuple[str, str | None, str]]:
    """(field path, suggested value or None, model: sweep | profile | conditions)."""
    found = {}
    for rx in HINTS:
        for m in rx.finditer(text):
            path, value = m.group("path"), m.groupdict().get("value")
            before, after = text[max(0, m.start("path") - 25) : m.start("path")], text[m.end() : m.end() + 16]
            if path.startswith("conditions."):
                model = "conditions"
            elif PROFILE_BEFORE.search(before) or after.startswith(" in the profile"):
                model = "profile"
            else:
                model = "sweep"
            found.setdefault((path, m.start("path")), (path, value, model))
    return list(found.values())


def _literal(v: str) -> Any:
    return {"true": True, "false": False}.get(v, int(v) if v.isdigit() else v)


def _nested(path: str, value: Any) -> dict:
    head, _, rest = path.partition(".")
    return {head: _nested(rest, value) if rest else value}


def problems(path: str, value: str | None, model: str) -> list[str]:
    """Why the hint is wrong ([] when the field exists and takes the value)."""
    values = [None] if value in (None, "{}") else [_literal(v) for v in value.split("/")]
    if model == "conditions":
        node: Any = normalise_spec({})
        for part in path.split("."):
            if not isinstance(node, dict) or part not in node:
                return [f"{path}: not a field of a ColonyOS spec"]
            node = node[part]
        return []
    if model == "profile":
        field = sizing.Profile.model_fields.get(path)
        if field is None:
            return [f"{path}: not a field of a site Profile"]
        bad = []
        for v in values:
            try:
                v is None or TypeAdapter(field.annotation).validate_python(v)
            except ValidationError:
                bad.append(f"{path}: {v!r} is not a value of Profile.{path}")
        return bad
    bad = []
    for v in values:
        try:
            SweepParams.model_validate({**BASE, **_nested(path, v)})
        except ValidationError as exc:
            loc = tuple(path.split("."))
            for err in exc.errors():
                if err["type"] == "extra_forbidden":
                    bad.append(f"{path}: not a field of the sweep (SweepParams)")
                elif v is not None and tuple(err["loc"]) == loc:
                    bad.append(f"{path}: {v!r} is refused: {err['msg']}")
    return bad


@pytest.mark.parametrize("module", [memory, sizing], ids=lambda m: m.__name__)
def test_every_field_a_refusal_names_exists(module):
    checked, wrong = 0, []
    for text in messages(module):
        for path, value, model in hints(text):
            checked += 1
            wrong += [f"{p}  (in {text!r})" for p in problems(path, value, model)]
    assert checked, f"no field hints found in {module.__name__}: the parser no longer reads its messages"
    assert not wrong, "\n".join(wrong)


def test_the_parser_finds_hints_and_the_checks_catch_wrong_ones():
    text = (
        "x; use distribute: false, or method: statevector; set mps.bond_dimension to cap; set aer: gpu in the profile"
    )
    found = {(p, v, m) for p, v, m in hints(text)}
    assert found >= {
        ("distribute", "false", "sweep"),
        ("method", "statevector", "sweep"),
        ("mps.bond_dimension", None, "sweep"),
        ("aer", "gpu", "profile"),
    }
    assert problems("distribute", "false", "sweep") == ["distribute: not a field of the sweep (SweepParams)"]
    assert problems("parallel", "tasks/trajectories", "sweep") == []
    assert problems("parallel", "false", "sweep") and problems("bond_dimension", None, "sweep")
    assert problems("mps.bond_dimension", None, "sweep") == []
    assert problems("conditions.gpu.count", None, "conditions") == []
    assert problems("conditions.gpus", None, "conditions") and problems("aer", "cuda", "profile")


def test_a_refusal_as_raised_names_a_real_field():
    """The rendered message too (not only the source text): a non-statevector method over ranks."""
    with pytest.raises(memory.SizingError) as exc:
        memory.footprint(10, "density_matrix", ranks=2)
    found = hints(str(exc.value))
    assert ("parallel", "tasks", "sweep") in found
    assert not [p for h in found for p in problems(*h)]
