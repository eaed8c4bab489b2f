from __future__ import annotations

import uuid

import pytest

from nslabtest import ModuleRunner, Sandbox


@pytest.fixture
def sandbox(tmp_path):
    box = Sandbox(f"t-{uuid.uuid4().hex[:8]}", root=str(tmp_path / "sandboxes"))
    box.create()
    try:
        yield box
    finally:
        box.destroy()


@pytest.fixture
def mod(sandbox, tmp_path):
    return ModuleRunner(sandbox, str(tmp_path))
