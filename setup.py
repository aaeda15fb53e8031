"""Build configuration that setup.cfg cannot express: the site profiles stay in the top-level
slurm_templates/ folder (people edit and review them there) and ship inside the package as
``hpcq._slurm_templates`` (package_dir mapping), for wheels and editable installs alike.
hpcq.executor.profiles reads them with importlib.resources. Everything else: setup.cfg."""

from setuptools import find_namespace_packages, setup

setup(
    packages=find_namespace_packages(include=["hpcq", "hpcq.*"], exclude=["*.__pycache__"])
    + ["hpcq._slurm_templates", "hpcq._slurm_templates.profiles"],
    package_dir={"hpcq._slurm_templates": "slurm_templates"},
)
