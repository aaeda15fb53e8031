"""hpcq: hybrid quantum-classical workflows on HPC without writing sbatch.

Data path: laptop client -> ColonyOS (embedded server or real one) -> executor -> Slurm job
(submitit) -> MPI worker (Qiskit Aer) -> HDF5 results -> catalog -> dashboard.
"""

__version__ = "0.1.0"
