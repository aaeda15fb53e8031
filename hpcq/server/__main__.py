"""``python -m hpcq.server start ...``: the same commands as ``hpcq server``."""

from hpcq.server.cli import server

if __name__ == "__main__":
    server(prog_name="python -m hpcq.server")
