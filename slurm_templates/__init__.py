"""The site profiles, shipped inside hpcq as ``hpcq._slurm_templates`` (see setup.py); read them
with ``hpcq.executor.profiles``, not by path."""
