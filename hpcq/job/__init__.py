"""Code that runs INSIDE the Slurm job (never on the login node's assign path).

`hpcq.job.runner.run_tasks` is what the executor hands to submitit; it must stay import-light
so that unpickling it does not pull Qiskit before thread variables are set.
"""
