"""The MPI worker: one Slurm job, N mpi4py ranks sharing a sweep's tasks; rank 0 writes one HDF5.

Knows nothing of ColonyOS. Entry points: ``hpcq.worker.entry:run_sweep`` (catalog function
``vqe_sweep``) and ``python -m hpcq.worker SWEEP.json --out DIR`` inside an allocation.
"""
