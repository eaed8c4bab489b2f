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


@pytest.fixture
def lab_host(tmp_path):
    """A lab host sandbox with uplink eth0 203.0.113.10/24 to a simulated internet
    (public server 198.51.100.10; the internet sandbox is also the outside client)."""
    from nslabtest import Internet

    root = str(tmp_path / "sandboxes")
    internet = Internet(root=root)
    host = Sandbox(f"h-{uuid.uuid4().hex[:6]}", root=root)
    try:
        internet.create()
        host.create()
        internet.attach(host, "203.0.113.10")
        yield host, internet
    finally:
        host.destroy()
        internet.destroy()


@pytest.fixture
def lab(lab_host, tmp_path):
    host, internet = lab_host
    runner = ModuleRunner(host, str(tmp_path))
    runner.internet = internet
    return runner
