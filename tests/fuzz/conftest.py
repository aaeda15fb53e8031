"""Fuzz tests: a few hundred cases per property in CI, >= 10,000 in the long mode (-m slow);
HPCQ_FUZZ_EXAMPLES overrides both. Hypothesis settings live in tests/fuzz/strategies.py (FUZZ),
applied per property so that other suites keep their own defaults."""

from __future__ import annotations

import sys
from pathlib import Path

# the fuzz modules import tests.fuzz.strategies; make the repo root importable however pytest
# was started (`python -m pytest` adds it, the `pytest` entry point does not)
ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
