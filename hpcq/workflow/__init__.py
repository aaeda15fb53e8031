"""The noise-study workflow's light steps that run in Slurm jobs (steps.py; their parameters in
params.py). The DAG's shape is built on the laptop (hpcq.client.dag); VQE and noise steps run the
catalog's `vqe_sweep` on one task."""
