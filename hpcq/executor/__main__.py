"""`python -m hpcq.executor start ...` (same as `hpcq executor start ...`)."""

from hpcq.executor.cli import executor

if __name__ == "__main__":
    executor(prog_name="hpcq executor")
