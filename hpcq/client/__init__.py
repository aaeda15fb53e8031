"""Laptop side: study files, submission, progress, fetch (talks to ColonyOS via pycolonies)."""

from hpcq.client.study import Study, StudyError, load_study, parse_study  # noqa: F401


def __getattr__(name):  # Client pulls in pycolonies; import it on first use
    if name in ("Client", "ClientError"):
        from hpcq.client import api

        return getattr(api, name)
    raise AttributeError(name)
