"""The hpcq executor: runs on an HPC login node and turns ColonyOS processes into Slurm jobs."""
