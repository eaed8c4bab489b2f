"""Hosts for the molecule verify step: each lab sandbox and the simulated internet."""

from __future__ import annotations

import json
import os
import sys

import pytest
import testinfra
from testinfra import backend

sys.path.insert(0, os.path.dirname(__file__))
backend.BACKENDS["nslab-sandbox"] = "sandbox_backend.SandboxBackend"

EXPECT = json.loads(os.environ.get("NSLAB_EXPECT", "{}"))


def pytest_generate_tests(metafunc):
    if "lab" in metafunc.fixturenames:
        metafunc.parametrize("lab", sorted(EXPECT), indirect=True)


@pytest.fixture
def lab(request):
    """(testinfra host of the lab sandbox, what it should have)."""
    name = request.param
    return testinfra.get_host(f"nslab-sandbox://{name}"), dict(EXPECT[name], name=name)


@pytest.fixture(scope="session")
def internet():
    return testinfra.get_host("nslab-sandbox://nslab-internet")
