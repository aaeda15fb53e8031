"""The registered hpcq functions (see hpcq/catalog.py for the contract)."""

from hpcq.catalog import FunctionDef, register

# Diagnostics used by `hpcq executor selftest` and the executor tests.
register(FunctionDef("hpcq_echo", "hpcq.executor.selftest:echo", "hpcq.executor.selftest:EchoParams",
                     "Return the given message; proves the path ColonyOS -> Slurm -> ColonyOS."))
register(FunctionDef("hpcq_sleep", "hpcq.executor.selftest:sleep", "hpcq.executor.selftest:SleepParams",
                     "Sleep for `seconds` (time-limit and cancellation tests)."))
register(FunctionDef("hpcq_fail", "hpcq.executor.selftest:fail", "hpcq.executor.selftest:FailParams",
                     "Raise RuntimeError(message) (error-propagation tests)."))
