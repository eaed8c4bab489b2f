# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One payload for every module of the collection that runs on a managed host.

Ansible builds a module's AnsiballZ payload once per ``ansible-playbook`` run for each distinct module: it parses
every file the module's imports reach, Ansible's own ``basic`` and its 50 files included (about 0.1 s on the
controller for each). A playbook of six of our modules paid six builds. The collection's action plugin
(``plugins/action/batch.py``, named in ``meta/runtime.yml`` for each of these modules) sends every such task with the
batch module's payload instead and names the module the task asked for in ``_ansible_module_name``; the batch module
runs that module's own entry point from here, so a run builds one payload whatever modules it uses.

Each entry point imports only its own code, inside the function: the payload carries all of them (Ansible's finder
reads imports wherever they are), a module run imports one - compiled once per host, not at every run: the code
compiled from the payload's sources is kept in ``pycode.DIRECTORY`` (``/var/cache/nslab.net/pycode``, root's alone).
"""

from __future__ import annotations

COLLECTION = "nslab.net."


def netns() -> None:
    from ansible_collections.nslab.net.plugins.module_utils._engine.engine import run
    from ansible_collections.nslab.net.plugins.module_utils._resources.namespaces import NetnsResource
    run(NetnsResource)


def veth() -> None:
    from ansible_collections.nslab.net.plugins.module_utils._engine.engine import run
    from ansible_collections.nslab.net.plugins.module_utils._resources.veth import VethResource
    run(VethResource)


def bridge_port() -> None:
    from ansible_collections.nslab.net.plugins.module_utils._engine.engine import run
    from ansible_collections.nslab.net.plugins.module_utils._resources.bridge_port import BridgePortResource
    run(BridgePortResource)


def ns_route() -> None:
    from ansible_collections.nslab.net.plugins.module_utils._engine.engine import run
    from ansible_collections.nslab.net.plugins.module_utils._resources.routes import RouteResource
    run(RouteResource)


def ns_sysctl() -> None:
    from ansible_collections.nslab.net.plugins.module_utils._engine.engine import run
    from ansible_collections.nslab.net.plugins.module_utils._resources.sysctl import SysctlResource
    run(SysctlResource)


def nat_rule() -> None:
    from ansible_collections.nslab.net.plugins.module_utils._engine.engine import run
    from ansible_collections.nslab.net.plugins.module_utils._nat.nat import NatResource
    run(NatResource)


def ns_service() -> None:
    from ansible_collections.nslab.net.plugins.module_utils._engine.engine import run
    from ansible_collections.nslab.net.plugins.module_utils._resources.services import ServiceResource
    run(ServiceResource)


def sandbox() -> None:
    from ansible_collections.nslab.net.plugins.module_utils._engine.engine import run
    from ansible_collections.nslab.net.plugins.module_utils._sandbox.sandbox_resource import SandboxResource
    run(SandboxResource)


def ns_probe() -> None:
    from ansible.module_utils.basic import AnsibleModule

    from ansible_collections.nslab.net.plugins.module_utils._report.probe import SPEC, main
    main(AnsibleModule(argument_spec=SPEC, supports_check_mode=True))


def lab_check() -> None:
    from ansible.module_utils.basic import AnsibleModule

    from ansible_collections.nslab.net.plugins.module_utils._report.check import SPEC, main
    main(AnsibleModule(argument_spec=SPEC, supports_check_mode=True))


def netns_info() -> None:
    from ansible.module_utils.basic import AnsibleModule

    from ansible_collections.nslab.net.plugins.module_utils._report.info import SPEC, main
    main(AnsibleModule(argument_spec=SPEC, supports_check_mode=True))


def batch() -> None:
    from ansible_collections.nslab.net.plugins.module_utils._entry.batch import run_batch
    run_batch()


#: the modules the batch module's payload runs, by short name (``meta/runtime.yml`` routes each one's task to it)
ENTRY_POINTS = {f.__name__: f for f in (netns, veth, bridge_port, ns_route, ns_sysctl, nat_rule, ns_service, sandbox,
                                        ns_probe, lab_check, netns_info, batch)}


def requested() -> str:
    """The module this run is for: the one the task named (``_ansible_module_name``, as the task wrote it: the action
    plugin sends this payload only for the collection's modules, so a short name is one of them), else ``batch`` (a
    task of the batch module itself, or a run with no Ansible controller, as the tests and the persisted engine make)."""
    from ansible.module_utils.basic import _load_params

    try:
        name = str(_load_params().get("_ansible_module_name") or "")
    except Exception:  # noqa: BLE001 - no arguments to read: the batch module's AnsibleModule says so in its words
        name = ""
    short = name[len(COLLECTION):] if name.startswith(COLLECTION) else name if "." not in name else ""
    return short if short in ENTRY_POINTS else "batch"


def main() -> None:
    """The batch module's entry point: the requested module's own, its code compiled once per host (pycode.py)."""
    from ansible_collections.nslab.net.plugins.module_utils._host import pycode

    entry = ENTRY_POINTS[requested()]
    try:
        pycode.install(pycode.DIRECTORY)
    except Exception:  # noqa: BLE001 - the cache only saves time: without it the code compiles as always
        pass
    entry()
