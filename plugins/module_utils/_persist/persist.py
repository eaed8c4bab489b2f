# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A lab that survives a reboot: the batch module's ``persist`` option (the roles' ``nslab_persist``).

Persisting a lab leaves on the managed host what it needs to rebuild the lab at boot, with no controller:

- ``/var/lib/nslab/labs/LAB/PART.json``: the intent - the batch's steps (the module calls the roles
  ran), as data; one file per part (``egress``, ``ingress``, or ``lab`` for the lab playbook's batch);
- ``/usr/local/lib/nslab/VERSION-HASH/nslab-engine.pyz``: the engine - this module run's own code (the
  payload Ansible sent: the batch module, the collection's module_utils and the parts of Ansible's
  ``module_utils`` they import) with :mod:`zipmain` as its ``__main__`` (the boot run, or the student's check); its name carries the collection's
  version and a hash of its content, so an upgrade installs beside the old one and then removes it;
- ``/etc/systemd/system/nslab-LAB.service``, enabled for ``multi-user.target``: runs the engine on the
  intent once the network is online (and after the host's firewall and Docker have loaded their rules).

Like a resource: read what the host has, plan (every refusal before any change), apply unless in check
mode, report (actions in words, one diff of the files). ``state: absent`` removes the part; the last part
of a lab takes the unit and the intent directory with it, and an engine no unit runs any more is removed.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sys
import zipfile
from typing import TYPE_CHECKING

from ansible_collections.nslab.net.plugins.module_utils._persist import boot
from ansible_collections.nslab.net.plugins.module_utils._host import validate as v
from ansible_collections.nslab.net.plugins.module_utils._host.files import read_text, replace_file
from ansible_collections.nslab.net.plugins.module_utils._host.validate import Invalid
from ansible_collections.nslab.net.plugins.module_utils._host.errors import known

if TYPE_CHECKING:
    from typing import Any, Callable

#: the collection's version (galaxy.yml; a unit test holds them equal): part of the engine's location
COLLECTION_VERSION = "1.0.0"
INTENT_FORMAT = boot.FORMAT

WHOLE = "lab"          # the part that is the whole lab (the lab playbook's one batch)
#: the options of the batch module's ``persist``
SPEC = dict(
    state=dict(type="str", choices=["present", "absent"], default="present"),
    lab=dict(type="str"),
    part=dict(type="str", default=WHOLE),
)

ENGINE_FILE = "nslab-engine.pyz"
WANTED_BY = "multi-user.target"
#: a sandbox host (plugins/module_utils/_sandbox/sandbox.py) marks its private /run with this file
SANDBOX_MARK = "/run/nslab-sandbox-host"
SYSTEMD = ("/usr/lib/systemd/systemd", "/lib/systemd/systemd")
#: what the module run's payload holds that is not the engine: the wrapper adds a sitecustomize.py that
#: points at the run's temporary copy of the payload; the engine's own __main__ replaces any other
NOT_ENGINE = ("sitecustomize.py", "__main__.py")
#: the engine's __main__: the boot runner or the student's check (zipmain.py, which the batch module imports so that
#: every payload carries it), from the engine's own copy of this collection
ENTRY = f"{boot.__name__.rsplit('.', 2)[0]}._entry.zipmain"
MAIN = f"from {ENTRY} import main\nmain()\n".encode()

UNIT = """\
# nslab.net: rebuilds the lab {lab!r} at boot from its saved intent, with no controller.
# Written by the lab's playbook run (nslab_persist: true); removed by its teardown or nslab_persist: false.
[Unit]
Description=nslab.net lab {lab} (namespaces, bridge, routes, NAT, demo services)
Wants=network-online.target
After=network-online.target nftables.service firewalld.service ufw.service docker.service
# nftables.service flushes the whole ruleset when it (re)starts: the lab's rules are made again with it
PartOf=nftables.service

[Service]
Type=oneshot
RemainAfterExit=yes
Environment={wait_env}={wait}
ExecStart={python} {engine} {intent}
# the engine bounds its own waits (NSLAB_BOOT_WAIT for the uplink, NSLAB_LOCK_TIMEOUT for the host lock)
TimeoutStartSec=infinity
SyslogIdentifier=nslab-{lab}

[Install]
WantedBy={wanted_by}
"""


class Layout:
    """Where a persisted lab's files live, under ``root`` (``/`` on a host; a directory in unit tests)."""

    def __init__(self, root: str = "/"):
        self.root = root

    def path(self, absolute: str) -> str:
        return os.path.join(self.root, absolute.lstrip("/"))

    def labs(self) -> str:
        return self.path("/var/lib/nslab/labs")

    def intent_dir(self, lab: str) -> str:
        return os.path.join(self.labs(), lab)

    def intent(self, lab: str, part: str) -> str:
        return os.path.join(self.intent_dir(lab), f"{part}.json")

    def engines(self) -> str:
        return self.path("/usr/local/lib/nslab")

    def engine(self, tag: str) -> str:
        return os.path.join(self.engines(), tag, ENGINE_FILE)

    def units(self) -> str:
        return self.path("/etc/systemd/system")

    def unit(self, lab: str) -> str:
        return os.path.join(self.units(), f"nslab-{lab}.service")

    def wants(self, lab: str) -> str:
        return os.path.join(self.units(), f"{WANTED_BY}.wants", f"nslab-{lab}.service")

    def shown(self, path: str) -> str:
        """A path as it is on the host (without a test's root)."""
        return "/" + os.path.relpath(path, self.root) if self.root != "/" else path


def payload_zip() -> str | None:
    """The zip this module run imports its code from (Ansible's AnsiballZ payload), or None."""
    from ansible.module_utils import basic

    path = os.path.dirname(basic.__file__)
    while path != os.path.dirname(path):
        if os.path.isfile(path):
            return path if zipfile.is_zipfile(path) else None
        path = os.path.dirname(path)
    return None


class Engine:
    """The engine made from a payload zip: its files (our ``__main__`` added), its tag, its bytes."""

    def __init__(self, payload: str):
        with zipfile.ZipFile(payload) as src:
            self.members = sorted((info.filename, src.read(info)) for info in src.infolist()
                                  if not info.is_dir() and info.filename not in NOT_ENGINE)
        self.members.append(("__main__.py", MAIN))
        digest = hashlib.sha256()
        for name, data in self.members:
            digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
        self.tag = f"{COLLECTION_VERSION}-{digest.hexdigest()[:12]}"

    def data(self) -> bytes:
        """The engine as a zip application, the same bytes for the same files."""
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in self.members:
                info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                zf.writestr(info, data)
        return out.getvalue()


def intent_text(lab: str, part: str, steps: list[dict]) -> str:
    """The saved intent: the steps exactly as the batch took them (the ones it ran, probes left out), without
    ``reset``: a boot rebuilds the lab, it does not remove what was made by hand since."""
    kept = [dict(module=s["module"], args={k: v for k, v in (s.get("args") or {}).items() if k != "reset"})
            for s in steps if s.get("enabled", True) and s["module"] != "ns_probe"]
    return json.dumps(dict(format=INTENT_FORMAT, lab=lab, part=part, saved_by=f"nslab.net {COLLECTION_VERSION}",
                           steps=kept), indent=1, sort_keys=True) + "\n"


def unit_text(lab: str, python: str, engine: str, intent_dir: str) -> str:
    return UNIT.format(lab=lab, python=python, engine=engine, intent=intent_dir, wait_env=boot.WAIT_ENV,
                       wait=boot.DEFAULT_WAIT, wanted_by=WANTED_BY)


def engine_of(unit: str | None) -> str | None:
    """The engine tag a unit's ExecStart runs."""
    for line in (unit or "").splitlines():
        if line.startswith("ExecStart="):
            words = line.split()
            return os.path.basename(os.path.dirname(words[1])) if len(words) > 1 else None
    return None


def masked(path: str) -> bool:
    """A unit masked by the admin (a link to /dev/null): never ours to write or remove."""
    return os.path.islink(path) and os.readlink(path) == "/dev/null"


def checked_name(option: str, value: Any) -> str:
    """A lab or part name that is safe as a file and unit name."""
    value = v.lab(option, value)
    if value.startswith("."):
        raise Invalid(option, f"{value!r} must not start with '.'")
    return value


class Persist:
    """The ``persist`` of one batch run: read, plan, apply, report."""

    def __init__(self, options: dict, lab: str, steps: list[dict], layout: Layout | None = None,
                 python: str | None = None, payload: str | None = None):
        self.state = options["state"]
        self.lab = checked_name("persist.lab", options.get("lab") or lab)
        self.part = checked_name("persist.part", options["part"])
        self.steps = steps
        self.layout = layout or Layout()
        self.python = python or sys.executable
        self.payload = payload
        self.engine: Engine | None = None
        self.operations: list = []      # (words, function)
        self.before: dict = {}
        self.after: dict = {}

    # -- read -----------------------------------------------------------------------------------
    def read(self) -> dict:
        lay = self.layout
        units = {}
        if os.path.isdir(lay.units()):
            for name in sorted(os.listdir(lay.units())):
                path = os.path.join(lay.units(), name)
                if name.startswith("nslab-") and name.endswith(".service") and not masked(path):
                    units[name] = read_text(path)
        parts = sorted(f[:-5] for f in os.listdir(lay.intent_dir(self.lab)) if f.endswith(".json")) \
            if os.path.isdir(lay.intent_dir(self.lab)) else []
        engines = sorted(os.listdir(lay.engines())) if os.path.isdir(lay.engines()) else []
        return dict(intent=read_text(lay.intent(self.lab, self.part)), parts=parts, units=units,
                    enabled=os.path.islink(lay.wants(self.lab)), engines=engines)

    # -- plan -----------------------------------------------------------------------------------
    def refuse_present(self) -> None:
        lay = self.layout
        if self.on_sandbox():
            raise Invalid("persist", "this host is an nslab.net sandbox on the controller's machine (a reboot of that "
                                     "machine ends it, and it shares the machine's /var/lib and /usr/local): persist a "
                                     "lab on a lab VM or host of its own, or set nslab_persist: false")
        if not any(os.path.exists(lay.path(p)) for p in SYSTEMD):
            raise Invalid("persist", f"the host has no systemd ({' or '.join(SYSTEMD)}): a persisted lab is rebuilt at "
                                     "boot by a systemd unit - install systemd, or set nslab_persist: false")
        unit = lay.unit(self.lab)
        if masked(unit):
            raise Invalid("persist", f"{os.path.basename(unit)} is masked (a link to /dev/null): systemctl unmask "
                                     f"{os.path.basename(unit)}, or set nslab_persist: false")
        if self.payload is None:
            raise Invalid("persist", "this module run has no Ansible module payload (AnsiballZ zip) to install as the "
                                     "engine - run from a checkout, or by Mitogen's strategy: run the lab with "
                                     "Ansible's own strategy (linear or free), or set nslab_persist: false")

    def on_sandbox(self) -> bool:
        return os.path.exists(self.layout.path(SANDBOX_MARK))

    def plan(self) -> Persist:
        if self.state == "absent" and self.on_sandbox():
            return self     # nothing is ever saved there; its /var/lib and /usr/local are the machine's own
        have = self.read()
        lay, unit_name = self.layout, os.path.basename(self.layout.unit(self.lab))
        unit = have["units"].get(unit_name)
        self._show(self.before, have["intent"], unit, have["enabled"], engine_of(unit))
        if self.state == "present":
            self.refuse_present()
            self.engine = Engine(known(self.payload))       # refuse_present(): there is one
            engine = lay.engine(self.engine.tag)
            want_intent = intent_text(self.lab, self.part, self.steps)
            want_unit = unit_text(self.lab, self.python, lay.shown(engine), lay.shown(lay.intent_dir(self.lab)))
            self._show(self.after, want_intent, want_unit, True, self.engine.tag)
            if self.engine.tag not in have["engines"] or not os.path.isfile(engine):
                self._op(f"install engine {lay.shown(engine)}", self._install_engine)
            if want_intent != have["intent"]:
                self._op(f"save intent {lay.shown(lay.intent(self.lab, self.part))} ({len(json.loads(want_intent)['steps'])} steps)",
                         lambda: replace_file(lay.intent(self.lab, self.part), want_intent.encode()))
            if want_unit != unit:
                self._op(f"write unit {lay.shown(lay.unit(self.lab))}", lambda: replace_file(lay.unit(self.lab), want_unit.encode()))
            if not have["enabled"]:
                self._op(f"enable {unit_name} ({WANTED_BY})", self._enable)
            # the whole lab's part replaces its roles' parts, and a role's part the whole lab's
            self._remove_parts([p for p in have["parts"] if p != self.part and WHOLE in (p, self.part)])
            units = dict(have["units"], **{unit_name: want_unit})
        else:
            self._show(self.after, None, unit, have["enabled"], engine_of(unit))
            units = dict(have["units"])
            # a role's part removed takes the whole lab's part with it (it would rebuild what was removed)
            gone = have["parts"] if self.part == WHOLE else [p for p in have["parts"] if p in (self.part, WHOLE)]
            self._remove_parts(gone)
            if not [p for p in have["parts"] if p not in gone]:
                self._plan_unit_removal(have, unit, unit_name)
                units.pop(unit_name, None)
        self._plan_engine_removal(have["engines"], units)
        return self

    def _remove_parts(self, parts: list) -> None:
        for part in parts:
            path = self.layout.intent(self.lab, part)
            self.before.setdefault(self.layout.shown(path), read_text(path))
            self.after.pop(self.layout.shown(path), None)
            self._op(f"remove intent {self.layout.shown(path)}", lambda path=path: os.unlink(path))

    def _plan_unit_removal(self, have: dict, unit: str | None, unit_name: str) -> None:
        lay = self.layout
        self._show(self.after, None, None, False, None)
        if have["enabled"]:
            self._op(f"disable {unit_name}", lambda: os.unlink(lay.wants(self.lab)))
        if unit is not None:
            self._op(f"remove unit {lay.shown(lay.unit(self.lab))}", lambda: os.unlink(lay.unit(self.lab)))
        others = [name for name in os.listdir(lay.labs()) if name != self.lab] if os.path.isdir(lay.labs()) else []
        if others:
            if os.path.isdir(lay.intent_dir(self.lab)):
                self._op(f"remove intent directory {lay.shown(lay.intent_dir(self.lab))}",
                         lambda: shutil.rmtree(lay.intent_dir(self.lab)))
        elif os.path.isdir(lay.labs()):        # the last lab: /var/lib/nslab goes with it
            self._op(f"remove {lay.shown(os.path.dirname(lay.labs()))}", lambda: shutil.rmtree(os.path.dirname(lay.labs())))

    def _plan_engine_removal(self, engines: list, units: dict) -> None:
        """Engines no unit runs any more (an older version's) go; with the last lab, all of them."""
        lay = self.layout
        running = {engine_of(text) for text in units.values()} - {None}
        gone = [tag for tag in engines if tag not in running]
        for tag in gone:
            self.before.setdefault(lay.shown(lay.engine(tag)), f"nslab.net engine {tag}")
        if not running and os.path.isdir(lay.engines()):
            self._op(f"remove engines {lay.shown(lay.engines())}", lambda: shutil.rmtree(lay.engines()))
            return
        for tag in gone:
            path = os.path.join(lay.engines(), tag)
            self._op(f"remove engine {lay.shown(path)}", lambda path=path: shutil.rmtree(path))

    def _show(self, side: dict, intent: str | None, unit: str | None, enabled: bool, engine: str | None) -> None:
        """One diff shape: each of the lab's files by its path (text, or what it is)."""
        lay = self.layout
        side.clear()
        for path, text in ((lay.intent(self.lab, self.part), intent), (lay.unit(self.lab), unit)):
            if text is not None:
                side[lay.shown(path)] = text
        if enabled:
            side[lay.shown(lay.wants(self.lab))] = f"-> {lay.shown(lay.unit(self.lab))}"
        if engine:
            side[lay.shown(lay.engine(engine))] = f"nslab.net engine {engine}"

    def _op(self, words: str, apply: Callable[..., object]) -> None:
        self.operations.append((words, apply))

    # -- apply ----------------------------------------------------------------------------------
    def _install_engine(self) -> None:
        engine = known(self.engine)          # planned with the state present
        replace_file(self.layout.engine(engine.tag), engine.data())

    def _enable(self) -> None:
        link = self.layout.wants(self.lab)
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(self.layout.shown(self.layout.unit(self.lab)), link)

    def apply(self, run_command: Callable[[list[str]], tuple[int, str, str]] | None = None) -> list[str]:
        done = []
        for words, operation in self.operations:
            operation()
            done.append(words)
        if done and run_command is not None and os.path.isdir(self.layout.path("/run/systemd/system")):
            rc, _out, err = run_command(["systemctl", "daemon-reload"])     # a booted systemd reads the unit now
            if rc != 0:
                raise OSError(f"systemctl daemon-reload failed ({err.strip()}): the files are saved, run it by hand")
            done.append("systemctl daemon-reload")
        return done

    # -- report ---------------------------------------------------------------------------------
    @property
    def actions(self) -> list[str]:
        return [words for words, _op in self.operations]

    def report(self) -> dict:
        lay = self.layout
        present = self.state == "present"
        return dict(lab=self.lab, part=self.part, state=self.state, changed=bool(self.operations),
                    unit=lay.shown(lay.unit(self.lab)) if present else None,
                    intent=lay.shown(lay.intent(self.lab, self.part)) if present else None,
                    engine=lay.shown(lay.engine(self.engine.tag)) if present else None)  # type: ignore[union-attr]
