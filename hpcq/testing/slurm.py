"""Local Slurm cluster pytest fixtures (see hpcq.testing)."""
