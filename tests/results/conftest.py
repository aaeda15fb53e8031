"""Synthetic result studies shared by the catalog/rank/CLI tests."""

import shutil

import pytest

from hpcq.testing.synthetic import make_study


@pytest.fixture(scope="session")
def _study_template(tmp_path_factory):
    d = tmp_path_factory.mktemp("study-template")
    make_study(d, n_workflows=6, noise_per_vqe=3, vqe_per_workflow=2)
    return d


@pytest.fixture
def study(tmp_path, _study_template):
    """A fresh copy of a 12-file study (12 vqe runs, 36 noise runs) per test."""
    d = tmp_path / "results"
    shutil.copytree(_study_template, d)
    return d
