# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Named network namespaces and one netlink socket per namespace, for reads and changes.

Namespaces are handled in-process with setns(2)/unshare(2)/mount(2) rather than
with pyroute2's ``IPRoute(netns=...)``: that call creates a missing namespace
(unless ``flags=0``) and, in pyroute2 0.9, forks a helper process per socket.
Here a socket is opened while the thread sits in the namespace and stays bound
to it after the thread switches back, so switching costs two syscalls.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import sys
from contextlib import contextmanager
from typing import TYPE_CHECKING

from ansible_collections.nslab.net.plugins.module_utils._host.reader import NETLINK_GET_STRICT_CHK, Reader, SOL_NETLINK
from ansible_collections.nslab.net.plugins.module_utils._host.writer import Writer

if TYPE_CHECKING:
    from types import ModuleType
    from collections.abc import Collection, Iterator
    from typing import Any, Callable

NETNS_RUN_DIR = "/run/netns"
NETNS_ETC_DIR = "/etc/netns"

CLONE_NEWNET = 0x40000000
MS_BIND = 4096
MS_REC = 16384
MS_SHARED = 1 << 20
MNT_DETACH = 2
NSFS_MAGIC = 0x6E736673

_libc: ctypes.CDLL | None = None


def _c() -> ctypes.CDLL:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    return _libc


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def setns(fd: int) -> None:
    if hasattr(os, "setns"):
        os.setns(fd, CLONE_NEWNET)
    else:  # Python < 3.12
        _check(_c().setns(fd, CLONE_NEWNET), "setns")


def ns_path(name: str) -> str:
    return os.path.join(NETNS_RUN_DIR, name)


def ns_exists(name: str | None) -> bool:
    """True for the host namespace (None) and for a mounted /run/netns/NAME.

    An unmounted leftover file (a half-deleted namespace) does not count.
    """
    if name is None:
        return True
    try:
        fd = os.open(ns_path(name), os.O_RDONLY)
    except OSError:
        return False
    try:
        return _fs_magic(fd) == NSFS_MAGIC
    finally:
        os.close(fd)


class _Statfs(ctypes.Structure):
    _fields_ = [("f_type", ctypes.c_long), ("rest", ctypes.c_byte * 120)]


def _fs_magic(fd: int) -> int:
    buf = _Statfs()
    if _c().fstatfs(fd, ctypes.byref(buf)) != 0:
        return 0
    return buf.f_type & 0xFFFFFFFF


def list_namespaces() -> list[str]:
    try:
        names = sorted(os.listdir(NETNS_RUN_DIR))
    except FileNotFoundError:
        return []
    return [n for n in names if ns_exists(n)]


def _ensure_run_dir() -> None:
    """Make /run/netns a shared mount point, as iproute2 does."""
    os.makedirs(NETNS_RUN_DIR, mode=0o755, exist_ok=True)
    run = NETNS_RUN_DIR.encode()
    if _c().mount(b"none", run, None, MS_SHARED | MS_REC, None) == 0:
        return
    if ctypes.get_errno() != errno.EINVAL:
        _check(-1, f"mount --make-shared {NETNS_RUN_DIR}")
    _check(_c().mount(run, run, b"none", MS_BIND | MS_REC, None), f"mount --bind {NETNS_RUN_DIR}")
    _check(_c().mount(b"none", run, None, MS_SHARED | MS_REC, None), f"mount --make-shared {NETNS_RUN_DIR}")


def create_namespace(name: str) -> None:
    """Create /run/netns/NAME without forking: unshare, bind-mount, switch back."""
    _ensure_run_dir()
    path = ns_path(name)
    fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0o444)
    os.close(fd)
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        _check(_c().unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)")
        try:
            _check(_c().mount(b"/proc/thread-self/ns/net", path.encode(), b"none", MS_BIND, None),
                   f"mount --bind {path}")
        finally:
            setns(home)
    except OSError:
        try:
            os.unlink(path)
        except OSError:
            pass
        raise
    finally:
        os.close(home)


def delete_namespace(name: str) -> None:
    path = ns_path(name)
    if _c().umount2(path.encode(), MNT_DETACH) != 0 and ctypes.get_errno() not in (errno.EINVAL, errno.ENOENT):
        _check(-1, f"umount {path}")
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


PYROUTE2_MIN = (0, 7, 2)


def listed_version(package_dir: str) -> str | None:
    """The version in the name of pyroute2's metadata directory beside ``package_dir``
    (``pyroute2-0.9.7.dist-info`` from pip, ``pyroute2-0.7.2.egg-info`` from a distribution's package),
    when there is exactly one; None otherwise. One directory listing, where ``importlib.metadata``
    costs each module run about 15 ms of imports (``email`` among them)."""
    import re

    try:
        names = os.listdir(os.path.dirname(package_dir.rstrip(os.sep)))
    except OSError:
        return None
    found = {m.group(1) for m in (re.match(r"pyroute2-(\d[^-]*?)(?:-py\d[\d.]*)?\.(?:dist|egg)-info$", n) for n in names) if m}
    return found.pop() if len(found) == 1 else None


def pyroute2_version() -> str | None:
    """The installed pyroute2's version, or None when it cannot be told.

    The distribution metadata comes first: pip and distribution packages (Debian's
    ``python3-pyroute2``) both install it, while Debian's package has no
    ``pyroute2/config/version.py`` and reports ``__version__`` "unknown". Its directory's
    name is read first (:func:`listed_version`), ``importlib.metadata`` when that does not tell."""
    import importlib.util

    spec = importlib.util.find_spec("pyroute2") if "pyroute2" not in sys.modules else sys.modules["pyroute2"].__spec__
    for location in (spec and spec.submodule_search_locations) or ():
        listed = listed_version(location)
        if listed:
            return listed
    try:
        from importlib import metadata   # Python >= 3.8
    except ImportError:  # pragma: no cover - older Pythons
        metadata = None  # type: ignore[assignment]
    if metadata is not None:
        try:
            return metadata.version("pyroute2")
        except Exception:  # PackageNotFoundError, or broken metadata: ask the package
            pass
    try:
        if "pyroute2" not in sys.modules:
            light_pyroute2()             # never the package's heavy __init__ just for its version
        from pyroute2.config.version import __version__
    except ImportError:
        return None
    return str(__version__)


def version_tuple(version: str | None) -> tuple[int, ...] | None:
    """'0.7.2' -> (0, 7, 2) ('0.9.1.post1', '0.7.12rc1' alike); None for 'unknown' and the like."""
    import re

    found = re.match(r"\s*(\d+)\.(\d+)(?:\.(\d+))?", version or "")
    if found is None:
        return None
    return tuple(int(part) for part in found.groups() if part is not None)


def pyroute2_spec() -> Any:
    """The import spec of the installed pyroute2 package, or None. An empty ``pyroute2`` directory - what removing
    Debian's python3-pyroute2 can leave (``__pycache__`` directories that no package owns) - imports as a namespace
    package with nothing in it: that is not installed either."""
    import importlib.util

    spec = importlib.util.find_spec("pyroute2")
    if spec is None or not spec.submodule_search_locations or spec.origin in (None, "namespace"):
        return None
    return spec


def light_pyroute2() -> ModuleType:
    """The pyroute2 package without running its ``__init__``, which imports every
    protocol family pyroute2 has (about 100 ms of each module run, more than the
    work itself on a small lab). The modules import the submodules they use
    (``pyroute2.iproute.linux``, ``pyroute2.netlink.exceptions``...); any other
    attribute asked of the package loads the whole package as usual."""
    import importlib
    import importlib.util
    import types

    if "pyroute2" in sys.modules:
        return sys.modules["pyroute2"]
    spec = pyroute2_spec()
    if spec is None:
        raise ImportError("No module named 'pyroute2'")
    stub: Any = types.ModuleType("pyroute2")     # a module with attributes of its own
    stub.__path__ = list(spec.submodule_search_locations)
    stub.__spec__, stub.__file__, stub.__package__ = spec, spec.origin, "pyroute2"

    def full(name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        if importlib.util.find_spec(f"pyroute2.{name}") is not None:   # a submodule: just that
            return importlib.import_module(f"pyroute2.{name}")
        sys.modules.pop("pyroute2", None)
        return getattr(importlib.import_module("pyroute2"), name)

    stub.__getattr__ = full
    sys.modules["pyroute2"] = stub
    stub.__version__ = pyroute2_version() or "unknown"
    return stub


def pyroute2_problem() -> str | None:
    """None when a usable pyroute2 is importable, else what to do about it.

    The module runs on whichever host Ansible runs it on (the controller when the task is
    delegated there), so the messages name the Python that runs it. A version that cannot
    be told (no metadata, "unknown") is taken as usable: the check only stops versions
    known to be too old."""
    where = f"for the Python that runs this module ({sys.executable})"
    try:
        light_pyroute2()
    except ImportError:
        return (f"pyroute2 is not installed {where}: install it (Debian/Ubuntu: apt install python3-pyroute2; "
                "or pip install 'pyroute2>=0.7.2'; the nslab.net roles do it with nslab_requirements: install), "
                "or set ansible_python_interpreter to a Python that has it")
    version = pyroute2_version()
    parts = version_tuple(version)
    if parts is not None and parts < PYROUTE2_MIN:
        return (f"pyroute2 {version} is too old {where}: nslab.net needs 0.7.2 or newer "
                "(pip install 'pyroute2>=0.7.2', or a newer python3-pyroute2 package)")
    return None


class Session:
    """One netlink socket per namespace touched, reused for every item."""

    def __init__(self) -> None:
        self._home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        self._ipr: dict = {}
        self._readers: dict = {}
        self._fds: dict = {}
        self._reads: dict[str | None, dict] = {}      # {namespace: {key: value}}, key[1] the namespace

    # -- reads shared by every module call on this session, dropped by a change in their namespace --
    def cached(self, key: tuple[Any, ...], read: Callable[[], Any]) -> Any:
        """``read()`` once per ``key`` - (what, namespace, ...) - until :meth:`changed`; callers must
        not mutate the value."""
        reads = self._reads.setdefault(key[1], {})
        if key not in reads:
            reads[key] = read()
        return reads[key]

    def peek(self, key: tuple[Any, ...]) -> Any:
        return self._reads.get(key[1], {}).get(key)

    def changed(self, namespaces: Collection[str | None] | None = None) -> None:
        """Something was written in ``namespaces``: their shared reads may be stale (None: any namespace's).
        The reads are kept by namespace: a lab of 500 namespaces holds about 1500 of them, and each change
        (two for each new veth pair) scanned them all."""
        if namespaces is None:
            self._reads.clear()
            return
        for ns in namespaces:
            self._reads.pop(ns, None)

    def close(self) -> None:
        for ipr in self._ipr.values():
            try:
                ipr.close()
            except Exception:  # pragma: no cover - best effort
                pass
        for reader in self._readers.values():
            reader.sock.close()
        for fd in self._fds.values():
            os.close(fd)
        os.close(self._home)
        self._ipr.clear()
        self._readers.clear()
        self._fds.clear()
        self._reads.clear()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fd(self, name: str | None) -> int:
        """An open descriptor of the namespace: None = the one we started in, a
        name under /run/netns, or an absolute path (e.g. /proc/PID/ns/net)."""
        if name is None:
            return self._home
        if name not in self._fds:
            self._fds[name] = os.open(name if name.startswith("/") else ns_path(name), os.O_RDONLY)
        return self._fds[name]

    def forget(self, name: str | None) -> None:
        """Drop the socket and descriptor of a namespace that was deleted."""
        ipr = self._ipr.pop(name, None)
        if ipr is not None:
            ipr.close()
        reader = self._readers.pop(name, None)
        if reader is not None:
            reader.sock.close()
        fd = self._fds.pop(name, None)
        if fd is not None:
            os.close(fd)

    @contextmanager
    def entered(self, name: str | None) -> Iterator[None]:
        if name is None:
            yield
            return
        setns(self.fd(name))
        try:
            yield
        finally:
            setns(self._home)

    def ipr(self, name: str | None) -> Any:
        """pyroute2's IPRoute in a namespace, for what :class:`Reader` and :class:`Writer` do not do (the sandboxes,
        the check's ``ip route get``); never creates the namespace."""
        if name not in self._ipr:
            from pyroute2.iproute.linux import IPRoute

            with self.entered(name):
                self._ipr[name] = IPRoute()
        return self._ipr[name]

    def reader(self, name: str | None) -> Reader:
        """The reads of a namespace (see :class:`Reader`); never creates the namespace."""
        if name not in self._readers:
            import socket

            with self.entered(name):
                sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, socket.NETLINK_ROUTE)
            try:                    # dumps filtered by the kernel (Reader.routes)
                sock.setsockopt(SOL_NETLINK, NETLINK_GET_STRICT_CHK, 1)
            except OSError:         # before Linux 4.20
                pass
            sock.bind((0, 0))
            self._readers[name] = Reader(sock)
        return self._readers[name]

    def writer(self, name: str | None) -> Writer:
        """The changes of a namespace (see :class:`Writer`), on its reader's socket."""
        return Writer(self.reader(name))
