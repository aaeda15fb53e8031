"""Kubernetes-style quantities as ColonyOS conditions write them: cpu in millicores ("4000m") and
memory with a binary unit ("2048Mi", "4Gi"). One parser for the client's check, the executor's
resource mapping and the embedded server's Go-compatible normaliser, so that the three agree on
what a quantity is; each caller keeps its own messages and limits. Standard library only.
"""

from __future__ import annotations

import re
from typing import Any

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB
TiB = 1024 * GiB
PiB = 1024 * TiB
MEM_UNITS = {"Ki": KiB, "Mi": MiB, "Gi": GiB, "Ti": TiB, "Pi": PiB}

# a memory request a user writes: a whole number and a unit of Mi or more (the client's Resources.mem)
MEM_REQUEST = re.compile(r"^(\d+)(Mi|Gi|Ti)$")
_MEM = re.compile(r"\s*(-?\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti)\s*")
_GO_MEM = re.compile(r"^\s*(\d+)\s*([A-Za-z]*)\s*$")
_MILLI = re.compile(r"\s*(-?\d+)m\s*")


class QuantityError(ValueError):
    """Not a quantity of the expected kind; ``negative`` tells a negative number from a bad unit."""

    def __init__(self, value: Any, negative: bool = False):
        self.value = value
        self.negative = negative
        super().__init__(f"{value!r} is {'negative' if negative else 'not a quantity'}")


def _parse(value: Any, pattern: re.Pattern[str]) -> re.Match[str] | None:
    """None for an unset value (None, '', 0); else the match, whose group 1 is a non-negative
    number; QuantityError otherwise."""
    if value is None or value == "" or value == 0:
        return None
    m = pattern.fullmatch(value) if isinstance(value, str) else None
    if m is None:
        raise QuantityError(value)
    if float(m.group(1)) < 0:
        raise QuantityError(value, negative=True)
    return m


def millicores(value: Any) -> int:
    """'4000m' -> 4000 (ColonyOS stores cpu this way); None/''/0 -> 0; else QuantityError."""
    m = _parse(value, _MILLI)
    return int(m.group(1)) if m else 0


def mem_bytes(value: Any) -> int:
    """'2048Mi' / '1.5Gi' / '512Ki' / '1Ti' -> bytes (units case-sensitive); None/''/0 -> 0."""
    m = _parse(value, _MEM)
    return int(float(m.group(1)) * MEM_UNITS[m.group(2)]) if m else 0


# colonies' own memory parser (pkg/parsers ConvertMemoryToBytes, v1.9.x): these units and no others;
# a number without a unit, or 'Ti'/'Pi', is refused ("error converting memory to int").
GO_MEM_UNITS = {
    **{u: KiB for u in ("Ki", "KiB")},
    **{u: MiB for u in ("Mi", "MiB")},
    **{u: GiB for u in ("Gi", "GiB")},
    "TiB": TiB,
    **{u: 10**3 for u in ("K", "KB", "Kb")},
    **{u: 10**6 for u in ("M", "MB", "Mb")},
    **{u: 10**9 for u in ("G", "Gb")},
    **{u: 10**12 for u in ("TB", "Tb")},
}


def go_mem_mib(value: Any) -> int:
    """Memory as the colonies (Go) server accepts and stores it, in whole MiB: an integer with one of
    colonies' units (GO_MEM_UNITS), rounded down; None/'' -> 0. Anything else is a QuantityError."""
    if value in (None, ""):
        return 0
    m = _GO_MEM.match(str(value))
    if not m or m.group(2) not in GO_MEM_UNITS:
        raise QuantityError(value)
    return int(m.group(1)) * GO_MEM_UNITS[m.group(2)] // MiB


def server_mem(text: str) -> str:
    """A study's memory request ('4Gi', '1Ti') as every ColonyOS server parses it: colonies' Go
    parser knows Ki/Mi/Gi and TiB but not Ti (a submit with '1Ti' is refused with "error converting
    memory to int"), so Ti is sent as Gi."""
    m = MEM_REQUEST.match(text)
    if m and m.group(2) == "Ti":
        return f"{int(m.group(1)) * 1024}Gi"
    return text


def is_mem_request(text: str) -> bool:
    """The memory a user may write in a study: whole Mi, Gi or Ti ('2048Mi', '4Gi')."""
    return bool(MEM_REQUEST.match(text))


# durations as a noise model is written: a number with a unit (s, ms, us/µs, ns), or a bare number
# in seconds (hpcq.sim.spec.NoiseSpec: t1, t2, gate times)
DURATION_UNITS = {"s": 1.0, "ms": 1e3, "us": 1e6, "µs": 1e6, "μs": 1e6, "ns": 1e9}  # per second: divide
_DURATION = re.compile(r"\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(s|ms|us|µs|μs|ns)\s*")


def duration_seconds(value: Any) -> float | None:
    """'100us' / '100 µs' / '0.3 ms' / '50e-9 s' -> seconds; None when ``value`` is not a string
    with one of DURATION_UNITS (a bare number is left to the caller, which knows its unit)."""
    m = _DURATION.fullmatch(value) if isinstance(value, str) else None
    return float(m.group(1)) / DURATION_UNITS[m.group(2)] if m else None  # 300 / 1e9 == 3e-07 exactly
