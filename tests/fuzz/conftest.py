"""Shared hypothesis settings: a few hundred cases in CI, >= 10,000 in the long mode.

HPCQ_FUZZ_EXAMPLES sets the number of examples per property; `-m slow` runs the long-mode
properties (10,000 each unless HPCQ_FUZZ_EXAMPLES says otherwise).
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile(
    "hpcq-fuzz", deadline=None, database=None, derandomize=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                           HealthCheck.filter_too_much, HealthCheck.data_too_large])
settings.load_profile("hpcq-fuzz")
