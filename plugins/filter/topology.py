# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""lab_topology / lab_probes: one topology description -> every module call's items."""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING

from ansible.errors import AnsibleFilterError

from ansible_collections.nslab.net.plugins.module_utils._lab.topology import lab_topology as _lab_topology
from ansible_collections.nslab.net.plugins.module_utils._lab.steps import persist as _persist
from ansible_collections.nslab.net.plugins.module_utils._lab.topology import probes as _probes
from ansible_collections.nslab.net.plugins.module_utils._lab.steps import steps as _steps
from ansible_collections.nslab.net.plugins.module_utils._lab.topology import with_uplink
from ansible_collections.nslab.net.plugins.module_utils._host.validate import Invalid

if TYPE_CHECKING:
    from typing import Any, Callable

DOCUMENTATION = r"""
name: lab_topology
short_description: Turn the lab's topology variables into the items of each module call
version_added: 1.0.0
description:
  - Validates the topology the egress and ingress roles share and returns the item lists of their
    module calls (C(netns), C(veth), C(ports), C(routes), C(masquerade), C(dnat), C(hairpin), C(services)).
  - Each of C(services) is an item of M(nslab.net.ns_service) with its page as C(index), so one module call
    writes the demo pages and starts the services.
  - Errors name the role variable at fault, e.g. C(nslab_namespaces[1].address), and an unknown key of an entry
    lists the keys it takes.
  - Also provides C(nslab.net.lab_probes), the connectivity probes of the lab report, C(nslab.net.with_uplink)
    (probes with C({uplink}) replaced by an address) and C(nslab.net.lab_steps) (the M(nslab.net.batch) steps
    of the egress role, the ingress role or the whole lab - C(part) V(egress), V(ingress) or V(lab) - for a
    C(state), with the report's probes as a last M(nslab.net.ns_probe) step when C(measure) (the internet
    target, or V({})) is given; removing needs only C(lab)) and C(nslab.net.lab_persist) (the
    M(nslab.net.batch) option C(persist) for a C(part) and C(state) - saved when the lab is present and its
    C(persist), the variable C(nslab_persist), is true, removed otherwise), C(nslab.net.lab_record) (the
    M(nslab.net.batch) option C(record), the hand-out record, from the lab and the host's C(nslab.net.lab_variables)
    for a C(state)), C(nslab.net.sandbox_hosts) (the sandbox role's C(sandbox_hosts) for the inventory's lab hosts
    marked C(nslab_sandbox=true), given C(groups['nslab_lab']) and C(hostvars) - each with its
    C(nslab_sandbox_uplink) or the next free address of 203.0.113.0/24 from .10), C(nslab.net.fault_names) (the
    names C(nslab_faults) hands out), and C(nslab.net.lab_variables) (a lab
    host's topology from its C(nslab_) variables, C(hostvars[inventory_hostname]) - what C(playbooks/lab.yml) builds
    and C(playbooks/check.yml) checks; an C(nslab_) variable the collection does not know, a typo, fails it, naming
    the closest one), C(nslab.net.unknown_variables) (the same check as a list of messages, empty when every
    C(nslab_) variable of a host's is known) and C(nslab.net.lab_records) (the fleet records of C(playbooks/lab.yml),
    the input of C(nslab.net.fleet_results), from what its build play left on each lab host, given
    C(ansible_play_hosts_all), C(hostvars) and C(ansible_check_mode)).
positional: _input
options:
  _input:
    description:
      - Dictionary with C(lab), C(namespaces), C(gateway), C(bridge), C(dns), C(uplink_interface), C(uplink_address),
        C(egress), C(nat_backend), C(firewall), C(persist), C(published_ports), C(demo_services), C(demo_python),
        C(seed), C(stage), C(goal), C(faults) and C(reset) (docs/EXERCISES.md).
      - A key given as null takes the default lab's value (the roles' defaults); a missing list is empty.
    type: dict
    required: true
  on_error:
    description:
      - V(fail) fails the template with the error; V(return) returns a dictionary with only C(error) (the message),
        so a role can fail with that message alone.
    type: str
    choices: [fail, return]
    default: fail
author:
  - nslab.net contributors (@nslab-net)
"""

EXAMPLES = r"""
lab: "{{ {'namespaces': nslab_namespaces, 'gateway': nslab_gateway, 'bridge': nslab_bridge} | nslab.net.lab_topology }}"
"""

RETURN = r"""
_value:
  description:
    - The item lists and the derived subnet, gateway and uplink.
    - C(services) items carry C(name), C(netns), C(directory), C(command) and C(index) (the page's text).
  type: dict
"""


#: the nslab_ variables of a lab's topology (lab_variables)
_VARIABLES = ("lab", "state", "requirements", "namespaces", "gateway", "bridge", "dns", "egress", "persist", "nat_backend",
              "firewall", "uplink_interface", "uplink_address", "published_ports", "demo_services", "demo_python",
              "demo_user", "seed", "stage", "goal", "faults", "reset")


#: the nslab_ variables the playbooks and the sandbox connection read besides the topology's (README, "The lab")
_PLAYBOOK_VARIABLES = ("report_internet", "outside_client", "report_strict", "results_dir", "sandbox_root",
                       "sandbox_uplink", "sandbox_name", "graph_dir", "hints", "grade_strict", "sandbox",
                       "sandbox_purge", "students", "class_file", "class_stage", "class_goal", "variant",
                       "class_secret", "sandbox_pycode_cache")
#: the names the playbooks give their own facts and results
_INTERNAL = ("plan", "built", "reach", "failure", "result", "checked", "outside", "outside_explained",
             "outside_results", "outside_probed", "check_topology", "fleet", "records", "graph_path", "measure",
             "measured", "present", "internet", "topology", "unreachable", "results_path", "results_wanted",
             "view", "grading", "written", "marked", "purged", "sandboxes")
_KNOWN = frozenset(f"nslab_{name}" for name in (*_VARIABLES, *_PLAYBOOK_VARIABLES, *_INTERNAL))


def _typos(a: str, b: str) -> int:
    """Edits from ``a`` to ``b``: a letter added, dropped, changed, or two neighbours swapped (stgae -> stage)."""
    rows = [list(range(len(b) + 1))]
    for i, ca in enumerate(a, 1):
        row = [i]
        for j, cb in enumerate(b, 1):
            row.append(min(rows[-1][j] + 1, row[j - 1] + 1, rows[-1][j - 1] + (ca != cb)))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                row[j] = min(row[j], rows[-2][j - 2] + 1)
        rows.append(row)
    return rows[-1][-1]


def unknown_variables(hostvars: Any) -> list:
    """A message for each nslab_ variable of ``hostvars`` that the collection does not know (a typo hands out
    the wrong lab without a word), naming the closest known one when it is a typo away."""
    out = []
    users = sorted(name[len("nslab_"):] for name in _KNOWN - {f"nslab_{n}" for n in _INTERNAL})
    for name in sorted(key for key in hostvars if isinstance(key, str) and key.startswith("nslab_")):
        if name in _KNOWN:
            continue
        typed = name[len("nslab_"):]
        distance, meant = min((_typos(typed, known), known) for known in users)
        out.append(f"{name}: not a variable of nslab.net; " + (
            f"did you mean nslab_{meant}?" if distance <= max(2, len(typed) // 3) else
            'its variables are listed in the README ("The lab")'))
    return out


def lab_records(hosts: list | None, hostvars: Any, check_mode: bool = False) -> list:
    """lab.yml's fleet records (the input of nslab.net.fleet_results), one per lab host, from what the build play left
    on each (``nslab_plan``, ``nslab_built``, ``nslab_failure``): one template for the fleet, not a task per host. A
    host the build could not reach (the batch task ignores it: no rescue runs) has the failure that says so; one that
    never got to its build (it failed before) has none, and fleet_results names it."""
    from ansible.module_utils.parsing.convert_bool import boolean

    out = []
    for host in hosts or []:
        found: Any = hostvars.get(host) or {}     # Ansible's hostvars
        built, failure = found.get("nslab_built"), found.get("nslab_failure")
        if not (failure or isinstance(built, dict)):
            continue
        plan = found.get("nslab_plan") or {}
        state = found.get("nslab_state") or "present"
        if not failure and isinstance(built, dict) and built.get("unreachable"):
            failure = dict(stage="connect", task="", msg=built.get("msg") or "unreachable", unreachable=True)
        elif not failure and isinstance(built, dict) and built.get("failed"):
            failure = dict(stage="teardown" if state == "absent" else "build", task="", msg=built.get("msg") or "failed",
                           unreachable=False)
        steps = built.get("results") if isinstance(built, dict) else None
        measured = (state != "absent" and not check_mode and not failure and not built.get("skipped")
                    and isinstance(steps, list) and bool(steps) and isinstance(steps[-1], dict)
                    and isinstance(steps[-1].get("results"), list))
        faults = [f["fault"] for f in plan.get("faults") or []]
        last = built["results"][-1] if measured else {}
        out.append(dict(
            host=host, state=state, check_mode=bool(check_mode),
            # a lab handed out with faults is built as asked: its facts not as expected do not fail the run
            strict=boolean(found.get("nslab_report_strict", True), strict=False) and not faults,
            lab_stage=(plan.get("stage") or {}).get("name"), faults=faults,
            results=last.get("results") if measured else None, failure=failure or None,
            outside=with_uplink(_probes(plan, found.get("nslab_report_internet") or None)["outside"],
                                (last.get("uplink") or {}).get("address")) if measured else [],
            outside_client=found.get("nslab_outside_client") or "localhost"))
    return out


def lab_topology(topo: dict, on_error: str = "fail") -> dict:
    try:
        return _lab_topology(dict(topo))
    except Invalid as exc:
        if on_error == "return":
            return dict(error=str(exc))
        raise AnsibleFilterError(str(exc)) from None


def lab_probes(lab: dict, internet: dict | None = None) -> dict:
    return _probes(lab, internet or None)


def lab_steps(lab: dict, part: str = "lab", state: str = "present", measure: dict | None = None) -> list[dict]:
    try:
        return _steps(dict(lab), part, state, measure)
    except (KeyError, Invalid) as exc:
        raise AnsibleFilterError(f"lab_steps needs lab_topology's result: {exc}") from None


def lab_persist(lab: dict, part: str = "lab", state: str = "present") -> dict:
    try:
        return _persist(dict(lab), part, state)
    except KeyError as exc:
        raise AnsibleFilterError(f"lab_persist needs lab_topology's result: {exc}") from None


def lab_record(lab: dict, variables: dict | None = None, state: str = "present", internet: dict | None = None,
               hints: bool = True) -> dict:
    """The batch module's ``record`` (the hand-out record, module_utils/_persist/record.py) of a lab host: from
    lab_topology's result and the host's lab_variables; removed when ``state`` is absent (needs only ``lab``)."""
    if state == "absent":
        return dict(lab=lab["lab"], state="absent")
    try:
        # never the faults, not even as a module argument (the host logs those): a student is root there
        kept = {k: v for k, v in dict(variables or {}).items() if k not in ("faults", "state", "requirements", "reset")}
        return dict(lab=lab["lab"], state="present", seed=lab["seed"], stage=lab["stage"]["name"],
                    goal=lab["goal"]["name"], variables=kept, internet=internet or None, hints=hints)
    except (KeyError, TypeError) as exc:
        raise AnsibleFilterError(f"lab_record needs lab_topology's result: {exc}") from None


#: the first uplink address given to a sandbox host of an inventory that names none (203.0.113.1 is the gateway)
_FIRST_UPLINK = 10


def sandbox_hosts(hosts: list | None, hostvars: Any) -> list[dict]:
    """The sandbox role's ``sandbox_hosts`` for the inventory's lab hosts marked ``nslab_sandbox: true`` (in the
    order of ``hosts``): each with its ``nslab_sandbox_uplink``, or the next free address of 203.0.113.0/24 from .10
    on (given in the inventory's order, so the same inventory gives the same addresses)."""
    marked = [h for h in hosts or [] if str((hostvars.get(h) or {}).get("nslab_sandbox", False)).lower() in ("true", "yes", "1")]
    taken = {str(hostvars[h].get("nslab_sandbox_uplink")) for h in marked if hostvars[h].get("nslab_sandbox_uplink")}
    free = (f"203.0.113.{n}" for n in range(_FIRST_UPLINK, 255) if f"203.0.113.{n}" not in taken)
    out = []
    for host in marked:
        given = hostvars[host].get("nslab_sandbox_uplink")
        address = str(given) if given else next(free, None)
        if address is None:
            raise AnsibleFilterError(f"{host}: no uplink address left in 203.0.113.10-254 for another sandbox host; "
                                     "set nslab_sandbox_uplink, or make fewer sandbox hosts")
        out.append(dict(name=host, uplink_address=address))
    return out


def variant(host: str, secret: str) -> dict:
    """A student's own lab (``nslab_variant``): a /24 lab subnet in 10.0.0.0/8, the namespaces' addresses in it,
    the published port and the token its demo page shows, each derived from the host's name and the teacher's ``nslab_class_secret`` (HMAC-SHA256):
    the same inventory gives the same labs; without the secret, one student's cannot be told from the name."""
    digest = hmac.new(str(secret).encode(), str(host).encode(), hashlib.sha256).digest()
    net = f"10.{1 + digest[0] % 254}.{digest[1]}"
    first = 2 + digest[2] % 200
    port = 5000 + int.from_bytes(digest[3:5], "big") % 1000
    token = digest[5:10].hex()              # the word the student's demo page shows, which the probes expect
    return dict(gateway=f"{net}.1/24",
                namespaces=[dict(name="netns1", address=f"{net}.{first}", veth="veth0", peer="ceth0"),
                            dict(name="netns2", address=f"{net}.{first + 1}", veth="veth1", peer="ceth1")],
                published_ports=[dict(namespace="netns1", port=port, target_port=port, protocol="tcp")],
                demo_services=[dict(namespace="netns1", port=port, token=token)])


def fault_names(value: Any) -> list[str]:
    """The names of the faults ``nslab_faults`` hands out (a list of names or of {fault, namespace}, or a
    comma-separated string), for the teacher's grade, read on the controller."""
    if value in (None, ""):
        return []
    if isinstance(value, str):
        return [name.strip() for name in value.split(",") if name.strip()]
    return [str(entry.get("fault") if isinstance(entry, dict) else entry) for entry in value]


def lab_variables(hostvars: Any) -> dict:
    """The topology of a lab host from its nslab_ variables (``hostvars[inventory_hostname]``): what lab.yml builds
    and check.yml checks; an unset variable is None (the default lab's value). An nslab_ variable the collection
    does not know fails it. With ``nslab_variant: true`` the lab subnet, addresses and published port that are not
    set are the student's own (:func:`variant`; the secret itself is never in the result)."""
    unknown = unknown_variables(hostvars)
    if unknown:
        raise AnsibleFilterError("; ".join(unknown))
    out = {key: hostvars.get(f"nslab_{key}") for key in _VARIABLES}
    if str(hostvars.get("nslab_variant", False)).lower() in ("true", "yes", "1"):
        secret = hostvars.get("nslab_class_secret")
        if not secret or len(str(secret)) < 8:
            raise AnsibleFilterError("nslab_class_secret: nslab_variant: true needs the teacher's secret, 8 characters "
                                     "or more, from which each student's lab is derived (keep it from the students: "
                                     "an ansible-vault file on the controller)")
        derived = variant(hostvars.get("inventory_hostname", ""), secret)
        # the subnet and the namespaces' addresses together (one without the other would not fit), the published
        # port and its service together: what the inventory sets stays
        for keys in (("gateway", "namespaces"), ("published_ports", "demo_services")):
            if all(out.get(key) in (None, "") for key in keys):
                out.update({key: derived[key] for key in keys})
    out["lab"] = out["lab"] or "nslab"
    out["demo_python"] = out["demo_python"] or "/usr/bin/python3"     # one the demo user can run
    return out


class FilterModule:
    def filters(self) -> dict[str, Callable[..., Any]]:
        return dict(lab_topology=lab_topology, lab_probes=lab_probes, lab_steps=lab_steps,
                    lab_persist=lab_persist, with_uplink=with_uplink, lab_variables=lab_variables, lab_record=lab_record,
                    sandbox_hosts=sandbox_hosts, fault_names=fault_names, lab_records=lab_records,
                    unknown_variables=unknown_variables)
