"""The CLI conventions every `hpcq` command shares, so that all commands look and behave alike.

* ``--json``: every command that prints a table also prints it as JSON (``json_option``; print
  with ``echo_json``).
* ``-v/--verbose`` and ``-q/--quiet`` (counts): the one verbosity flag pair; it configures logging
  once, through ``configure_logging`` (the only ``logging.basicConfig`` of a command).
* Options that take seconds end in ``-s`` (``--timeout-s``, ``--poll-s``): ``seconds_option``.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Callable
from typing import Any

import click

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_LEVELS = (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR, logging.CRITICAL)


def json_option(f: Callable) -> Callable:
    """Add ``--json`` (parameter ``as_json``): the command prints its table as JSON instead."""
    return click.option("--json", "as_json", is_flag=True, help="Print the table as JSON (machine-readable).")(f)


def echo_json(obj: Any) -> None:
    """Print ``obj`` as one JSON document (non-JSON values such as paths become strings)."""
    click.echo(json.dumps(obj, indent=1, default=str))


def configure_logging(verbosity: int = 0, default: int = logging.WARNING) -> int:
    """Set the root log level: ``default`` moved one step down per -v, up per -q. Returns the level."""
    i = _LEVELS.index(default) - verbosity
    level = _LEVELS[min(len(_LEVELS) - 1, max(0, i))]
    logging.basicConfig(level=level, stream=sys.stderr, format=LOG_FORMAT, force=True)
    return level


def verbosity_option(default: int = logging.WARNING) -> Callable[[Callable], Callable]:
    """Add ``-v/--verbose`` and ``-q/--quiet`` (counts) and configure logging before the command runs.

    ``default`` is the level with neither flag (a daemon wants INFO, a one-shot command WARNING).
    """

    def deco(f: Callable) -> Callable:
        @functools.wraps(f)
        def wrapper(*args, verbose: int = 0, quiet: int = 0, **kwargs):
            configure_logging(verbose - quiet, default)
            return f(*args, **kwargs)

        name = logging.getLevelName(default)
        wrapper = click.option("-q", "--quiet", count=True, help="Less logging (repeat for even less).")(wrapper)
        return click.option(
            "-v", "--verbose", count=True, help=f"More logging (default {name}; -v one level more, -vv two)."
        )(wrapper)

    return deco


class _SecondsOption(click.Option):
    """An option whose help lists only its ``-s`` name (older spellings still parse)."""

    def get_help_record(self, ctx):
        opts, self.opts = self.opts, self.opts[:1]
        try:
            return super().get_help_record(ctx)
        finally:
            self.opts = opts


def seconds_option(
    name: str,
    default: float | None,
    help: str,
    *,
    min_s: float = 0,
    max_s: float = 86400,
    legacy: tuple[str, ...] = (),
    dest: str | None = None,
) -> Callable[[Callable], Callable]:
    """``--<name>-s``: a duration in seconds (float, range-checked). ``legacy`` = old spellings still accepted.

    The function parameter is ``<name>_s`` (dashes become underscores) unless ``dest`` is given.
    """
    if name.endswith("-s"):
        raise ValueError(f"seconds_option({name!r}): give the name without the -s suffix")
    flag = f"--{name}-s"
    param = dest or f"{name.replace('-', '_')}_s"
    return click.option(
        flag,
        *legacy,
        param,
        cls=_SecondsOption,
        type=click.FloatRange(min_s, max_s),
        default=default,
        show_default=default is not None,
        help=f"{help} (seconds)",
    )
