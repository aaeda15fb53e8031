"""Root conftest: shared fixtures come from hpcq.testing so benches and the fault suite reuse them."""

pytest_plugins = ["hpcq.testing.server", "hpcq.testing.slurm"]
