"""The SPANK environment of a QPU job diagnosed before any client runs (hpcq.qpu.env): each broken
case names the variable and the fix. Pure Python: runs in any venv."""

from __future__ import annotations

import pytest

from hpcq.qpu import QpuError, require
from hpcq.qpu.env import check_qrmi_env

GOOD = {
    "QRMI_JOB_QPU_RESOURCES": "vlq",
    "QRMI_JOB_QPU_TYPES": "iqm-server",
    "vlq_QRMI_IQM_ISA_ENDPOINT": "http://127.0.0.1:9",
}


def test_a_granted_qpu_passes_and_legacy_names_count():
    check_qrmi_env("vlq", env=GOOD)
    legacy = {"SLURM_JOB_QPU_RESOURCES": "a;vlq", "SLURM_JOB_QPU_TYPES": "x;iqm-server", "QRMI_LIST_DELIMITER": ";"}
    check_qrmi_env("vlq", env={**legacy, "vlq_QRMI_IQM_ISA_ENDPOINT": "http://h"})


@pytest.mark.parametrize(
    "change, match",
    [
        ({"QRMI_JOB_QPU_RESOURCES": None}, r"QRMI_JOB_QPU_RESOURCES is not set.*--qpu=vlq"),
        ({"QRMI_JOB_QPU_RESOURCES": ""}, r"is empty.*spank-plugins#133"),
        ({"QRMI_JOB_QPU_RESOURCES": "garnet"}, r"holds QPU\(s\) \['garnet'\], not 'vlq'.*resource"),
        ({"QRMI_JOB_QPU_TYPES": "pasqal-cloud"}, r"type 'pasqal-cloud'.*resource_type"),
        ({"QRMI_JOB_QPU_TYPES": "iqm-server,iqm-server"}, "differ in length"),
        ({"vlq_QRMI_IQM_ISA_ENDPOINT": ""}, r"vlq_QRMI_IQM_ISA_ENDPOINT is not set or empty"),
    ],
)
def test_broken_environments_name_the_fix(change, match):
    env = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    with pytest.raises(QpuError, match=match):
        check_qrmi_env("vlq", env=env)


def test_missing_extra_names_it():
    with pytest.raises(QpuError, match=r"pip install 'hpcq\[qpu-iqm-qrmi\]'"):
        require("hpcq_no_such_vendor_client")
