"""pyroute2's version, as the modules read it: distribution metadata first (Debian's
python3-pyroute2 0.7.2 has no pyroute2/config/version.py and reports "unknown"), then
pyroute2.config.version; an unknown version is usable. No root needed."""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
import sys
import types

import pytest

from ansible_collections.nslab.net.plugins.module_utils._host import session as nsmod


@pytest.fixture(autouse=True)
def a_pyroute2_package(tmp_path, monkeypatch):
    """A pyroute2 package to find, shaped like Debian's (no config/version.py), when none is
    installed (ansible-test units runs in a virtualenv without one)."""
    if importlib.util.find_spec("pyroute2") is None:
        package = tmp_path / "pyroute2"
        (package / "config").mkdir(parents=True)
        (package / "__init__.py").write_text("")
        (package / "config" / "__init__.py").write_text("")
        monkeypatch.syspath_prepend(str(tmp_path))
        for name in [n for n in sys.modules if n == "pyroute2" or n.startswith("pyroute2.")]:
            monkeypatch.delitem(sys.modules, name)


@pytest.fixture(autouse=True)
def no_listed_version(request, monkeypatch):
    """The tests of the fallbacks see no metadata directory beside the package (test_listed_* see their own)."""
    if "listed" not in request.node.name:
        monkeypatch.setattr(nsmod, "listed_version", lambda package_dir: None)


def fake_metadata(monkeypatch, version: str | None):
    """importlib.metadata.version("pyroute2") answers ``version`` (None: not found)."""
    real = importlib.metadata.version

    def version_of(name):
        if name != "pyroute2":
            return real(name)
        if version is None:
            raise importlib.metadata.PackageNotFoundError(name)
        return version
    monkeypatch.setattr(importlib.metadata, "version", version_of)


def fake_config_version(monkeypatch, version: str | None):
    """pyroute2.config.version holds ``version``; None: the module is missing, as in Debian's package."""
    nsmod.light_pyroute2()                       # the light package, so pyroute2.config imports alone
    if version is None:
        monkeypatch.setitem(sys.modules, "pyroute2.config.version", None)    # import fails
    else:
        module = types.ModuleType("pyroute2.config.version")
        module.__version__ = version
        monkeypatch.setitem(sys.modules, "pyroute2.config.version", module)


@pytest.mark.parametrize("version", ["0.7.2", "0.9.1", "0.7.12", "0.9.1.post1", "1.0.0rc1"])
def test_metadata_version_is_used_and_recent_enough(monkeypatch, version):
    fake_metadata(monkeypatch, version)
    fake_config_version(monkeypatch, None)       # Debian's package: no version.py
    assert nsmod.pyroute2_version() == version
    assert nsmod.pyroute2_problem() is None


def test_too_old_names_the_version_and_the_python(monkeypatch):
    fake_metadata(monkeypatch, "0.6.0")
    problem = nsmod.pyroute2_problem()
    assert problem is not None
    assert problem.startswith("pyroute2 0.6.0 is too old")
    assert f"for the Python that runs this module ({sys.executable})" in problem
    assert "0.7.2 or newer" in problem


def test_config_version_when_there_is_no_metadata(monkeypatch):
    fake_metadata(monkeypatch, None)
    fake_config_version(monkeypatch, "0.7.9")
    assert nsmod.pyroute2_version() == "0.7.9"
    assert nsmod.pyroute2_problem() is None
    fake_config_version(monkeypatch, "0.6.5")
    assert "pyroute2 0.6.5 is too old" in nsmod.pyroute2_problem()


@pytest.mark.parametrize("version", ["unknown", "", "git"])
def test_unknown_version_is_usable(monkeypatch, version):
    fake_metadata(monkeypatch, version)
    assert nsmod.version_tuple(version) is None
    assert nsmod.pyroute2_problem() is None


def test_no_version_anywhere_is_usable(monkeypatch):
    fake_metadata(monkeypatch, None)
    fake_config_version(monkeypatch, None)
    assert nsmod.pyroute2_version() is None
    assert nsmod.pyroute2_problem() is None


def test_missing_pyroute2_says_what_to_install(monkeypatch):
    monkeypatch.delitem(sys.modules, "pyroute2", raising=False)
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pyroute2" else real(name, *a))
    problem = nsmod.pyroute2_problem()
    assert problem.startswith(f"pyroute2 is not installed for the Python that runs this module ({sys.executable})")
    assert "apt install python3-pyroute2" in problem


@pytest.mark.parametrize("text, want", [("0.7.2", (0, 7, 2)), ("0.9", (0, 9)), ("0.9.1.post1", (0, 9, 1)),
                                        ("0.7.12rc1", (0, 7, 12)), ("unknown", None), (None, None)])
def test_version_tuple(text, want):
    assert nsmod.version_tuple(text) == want


@pytest.mark.parametrize(("entries", "want"), [
    (["pyroute2", "pyroute2-0.9.7.dist-info", "pyroute2_plus-1.0.dist-info"], "0.9.7"),     # pip
    (["pyroute2", "pyroute2-0.7.2.dist-info"], "0.7.2"),                                  # Debian 12's python3-pyroute2
    (["pyroute2", "pyroute2-0.7.2.egg-info"], "0.7.2"),                                   # an older distribution package
    (["pyroute2", "pyroute2-0.7.3-py3.9.egg-info"], "0.7.3"),                             # setup.py install
    (["pyroute2", "pyroute2-0.7.2.dist-info", "pyroute2-0.9.1.dist-info"], None),         # leftovers: metadata decides
    (["pyroute2"], None),
])
def test_listed_version_from_the_metadata_directory_name(tmp_path, entries, want):
    for entry in entries:
        (tmp_path / entry).mkdir()
    assert nsmod.listed_version(str(tmp_path / "pyroute2")) == want
    assert nsmod.listed_version(str(tmp_path / "pyroute2") + "/") == want


def test_listed_version_comes_first(monkeypatch, tmp_path):
    fake_metadata(monkeypatch, "0.6.0")
    monkeypatch.setattr(nsmod, "listed_version", lambda package_dir: "0.9.2")
    assert nsmod.pyroute2_version() == "0.9.2"
    assert nsmod.pyroute2_problem() is None


def test_listed_version_agrees_with_the_installed_metadata():
    if importlib.util.find_spec("pyroute2") is None or not importlib.util.find_spec("pyroute2").origin:
        pytest.skip("no pyroute2 installed here")
    try:
        want = importlib.metadata.version("pyroute2")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("this pyroute2 has no metadata")
    assert nsmod.pyroute2_version() == want


def test_an_empty_pyroute2_directory_is_not_installed(tmp_path, monkeypatch):
    """Removing Debian 13's python3-pyroute2 can leave ``pyroute2/`` with empty ``__pycache__`` directories no package
    owns: Python imports it as an empty namespace package. The modules and the boot run take it as not installed,
    naming the fix, instead of failing later on a missing ``pyroute2.netlink``."""
    from ansible_collections.nslab.net.plugins.module_utils._persist import boot

    leftover = tmp_path / "left" / "pyroute2" / "netlink" / "__pycache__"
    leftover.mkdir(parents=True)
    (tmp_path / "left" / "pyroute2" / "__pycache__").mkdir()
    others = [path for path in sys.path if not os.path.isdir(os.path.join(path, "pyroute2"))]     # no real one
    monkeypatch.setattr(sys, "path", [str(tmp_path / "left"), *others])
    for name in [n for n in sys.modules if n == "pyroute2" or n.startswith("pyroute2.")]:
        monkeypatch.delitem(sys.modules, name)
    importlib.invalidate_caches()
    assert importlib.util.find_spec("pyroute2") is not None          # importable, as the shell sees it
    assert nsmod.pyroute2_spec() is None
    assert "pyroute2 is not installed" in nsmod.pyroute2_problem()
    with pytest.raises(boot.BootError, match="pyroute2 is not importable"):
        boot.require_pyroute2("nslab-lab.service")
