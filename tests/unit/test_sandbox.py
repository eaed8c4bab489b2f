"""Sandbox hosts without creating one: what a sandbox that does not run says."""

from __future__ import annotations

import pytest

from ansible_collections.nslab.net.plugins.module_utils._sandbox.sandbox import Sandbox, SandboxError


def test_a_sandbox_that_does_not_run_has_no_network_namespace_and_says_so(tmp_path):
    box = Sandbox("gone", root=str(tmp_path))
    assert box.pid is None
    with pytest.raises(SandboxError, match=r"^sandbox gone is not running \(no holder process under .*/gone\)$"):
        assert not box.netns     # the read raises
    (tmp_path / "gone").mkdir()
    (tmp_path / "gone" / "pid").write_text("1\n")     # a pid file naming a process that is not its holder
    with pytest.raises(SandboxError, match="not running"):
        assert not box.netns
