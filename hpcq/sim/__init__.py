"""Simulation library: problems, ansatze, optimizers, noise models, VQE runs and metrics.

Knows nothing of ColonyOS, Slurm or submitit. ``hpcq.sim.spec`` imports no Qiskit (the login node
validates sweeps with it); everything else imports Qiskit lazily through its own module.
"""
