"""Root conftest: shared fixtures come from hpcq.testing so benches and the fault suite reuse them."""

pytest_plugins = ["hpcq.testing.server", "hpcq.testing.slurm", "hpcq.testing.colonies_lab"]


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "aer_mpi: needs the MPI-built qiskit-aer in .aer-mpi (scripts/build-aer-mpi.sh); runs last"
    )


def pytest_report_header(config):
    from hpcq.testing.colonies_lab import DEFAULT_VERSION, lab_available

    ok, why = lab_available()
    return f"real ColonyOS server: colonies {DEFAULT_VERSION} (Go module proxy)" + (
        "" if ok else f": unavailable ({why})"
    )


def pytest_collection_modifyitems(config, items):
    """Tests marked aer_mpi run last: they wait for the MPI Aer that scripts/setup.sh builds in the background."""
    items[:] = sorted(items, key=lambda item: item.get_closest_marker("aer_mpi") is not None)
