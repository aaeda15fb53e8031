"""The noise-study workflow: its shape (dag.py, client side, no Qiskit) and the light steps that
run in Slurm jobs (steps.py). VQE and noise steps run the catalog's `vqe_sweep` on one task."""
