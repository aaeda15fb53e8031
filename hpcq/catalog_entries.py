"""The registered hpcq functions (see hpcq/catalog.py for the contract)."""

from hpcq.catalog import FunctionDef, register

# Diagnostics used by `hpcq executor selftest` and the executor tests.
register(FunctionDef("hpcq_echo", "hpcq.executor.selftest:echo", "hpcq.executor.selftest:EchoParams",
                     "Return the given message; proves the path ColonyOS -> Slurm -> ColonyOS."))
register(FunctionDef("hpcq_sleep", "hpcq.executor.selftest:sleep", "hpcq.executor.selftest:SleepParams",
                     "Sleep for `seconds` (time-limit and cancellation tests)."))
register(FunctionDef("hpcq_fail", "hpcq.executor.selftest:fail", "hpcq.executor.selftest:FailParams",
                     "Raise RuntimeError(message) (error-propagation tests)."))

# The noise-study workflow's light steps (hpcq/workflow/steps.py); VQE/noise steps use vqe_sweep.
register(FunctionDef("study_hamiltonian", "hpcq.workflow.steps:hamiltonian",
                     "hpcq.workflow.params:HamiltonianParams",
                     "Problem Hamiltonian and exact ground energy (workflow root)."))
register(FunctionDef("study_ansatz", "hpcq.workflow.steps:ansatz", "hpcq.workflow.params:AnsatzParams",
                     "Ansatz size report for a problem (workflow step 2)."))
register(FunctionDef("study_aggregate", "hpcq.workflow.steps:aggregate", "hpcq.workflow.params:AggregateParams",
                     "Gather every run's HDF5 file from the parents' outputs and rank the noise runs."))

# MPI-parallel Aer VQE sweeps (hpcq.worker); kwargs = hpcq.sim.spec:SweepParams (no Qiskit import).
register(FunctionDef("vqe_sweep", "hpcq.worker.entry:run_sweep", "hpcq.sim.spec:SweepParams",
                     "VQE sweep problems x ansatze x optimizers x noise x seeds on Qiskit Aer; ranks "
                     "share the tasks; writes one HDF5 result file (docs/results-format.md).",
                     mpi=True))
