"""The saved lab (module_utils/_persist/persist.py) and the engine's boot runner (module_utils/_persist/boot.py), on a
directory that stands for the host's root: no root, no kernel."""

from __future__ import annotations

import importlib.util
import os
import zipfile

import pytest
import yaml

from ansible_collections.nslab.net.plugins.module_utils._persist import boot
from ansible_collections.nslab.net.plugins.module_utils._persist.persist import (
    COLLECTION_VERSION, Engine, Layout, Persist, engine_of)
from ansible_collections.nslab.net.plugins.module_utils._lab.steps import persist as lab_persist
from ansible_collections.nslab.net.plugins.module_utils._host.validate import Invalid

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STEPS = [dict(module="netns", args=dict(lab="x", items=[dict(name="n1")]), enabled=True),
         dict(module="nat_rule", args=dict(lab="x", items=[dict(type="masquerade", source="10.9.0.0/24", uplink=True)]),
              enabled=True),
         dict(module="ns_sysctl", args=dict(name="net.ipv4.ip_forward", value=1), enabled=False),
         dict(module="ns_probe", args=dict(probes=[]), enabled=True)]


def payload(path: str, extra: str = "") -> str:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("ansible/__init__.py", "")
        zf.writestr("ansible_collections/nslab/net/plugins/modules/batch.py", "# the batch module" + extra)
        zf.writestr("sitecustomize.py", f"import sys\nsys.path.insert(0, {path!r})\n")
    return path


@pytest.fixture
def host(tmp_path):
    """A host root with systemd installed, and a module payload."""
    os.makedirs(tmp_path / "root" / "usr" / "lib" / "systemd")
    (tmp_path / "root" / "usr" / "lib" / "systemd" / "systemd").write_text("")
    return Layout(str(tmp_path / "root")), payload(str(tmp_path / "payload.zip"))


def persist(layout, zip_path, state="present", steps=None, lab="x", part="lab"):
    return Persist(dict(state=state, lab=None, part=part), lab, STEPS if steps is None else steps, layout=layout,
                   python="/usr/bin/python3", payload=zip_path).plan()


def saved(layout: Layout) -> list[str]:
    """Every file and link under the host's /var/lib/nslab, /usr/local/lib/nslab and /etc/systemd."""
    out = []
    for top in ("var/lib/nslab", "usr/local/lib/nslab", "etc/systemd"):
        for dirpath, _dirs, files in os.walk(os.path.join(layout.root, top)):
            out += ["/" + os.path.relpath(os.path.join(dirpath, f), layout.root) for f in files]
    return sorted(out)


def test_the_collection_version_is_galaxy_yml_s():
    with open(os.path.join(REPO, "galaxy.yml")) as fh:
        assert yaml.safe_load(fh)["version"] == COLLECTION_VERSION


def test_saving_a_lab_writes_intent_engine_and_an_enabled_unit_then_changes_nothing(host):
    layout, zip_path = host
    first = persist(layout, zip_path)
    engine = f"/usr/local/lib/nslab/{Engine(zip_path).tag}/nslab-engine.pyz"
    assert first.actions == [f"install engine {engine}", "save intent /var/lib/nslab/labs/x/lab.json (2 steps)",
                             "write unit /etc/systemd/system/nslab-x.service",
                             "enable nslab-x.service (multi-user.target)"]
    assert first.before == {} and set(first.after) == {
        "/var/lib/nslab/labs/x/lab.json", "/etc/systemd/system/nslab-x.service", engine,
        "/etc/systemd/system/multi-user.target.wants/nslab-x.service"}
    assert saved(layout) == [], "planning writes nothing"
    assert first.apply() == first.actions
    assert saved(layout) == sorted(["/var/lib/nslab/labs/x/lab.json", "/etc/systemd/system/nslab-x.service", engine,
                                    "/etc/systemd/system/multi-user.target.wants/nslab-x.service"])
    assert os.readlink(layout.wants("x")) == "/etc/systemd/system/nslab-x.service"
    unit = open(layout.unit("x")).read()
    assert f"ExecStart=/usr/bin/python3 {engine} /var/lib/nslab/labs/x\n" in unit
    assert "After=network-online.target" in unit and "WantedBy=multi-user.target" in unit
    intent = yaml.safe_load(open(layout.intent("x", "lab")))
    assert [s["module"] for s in intent["steps"]] == ["netns", "nat_rule"], "disabled steps and probes are not saved"
    again = persist(layout, zip_path)
    assert again.actions == [] and again.before == again.after == first.after


def test_an_engine_runs_as_a_zip_application_and_its_tag_ignores_the_run_s_own_files(tmp_path):
    one = Engine(payload(str(tmp_path / "a.zip")))
    two = Engine(payload(str(tmp_path / "elsewhere.zip")))       # another temporary path: another sitecustomize.py
    assert one.tag == two.tag and one.tag.startswith(COLLECTION_VERSION + "-") and one.data() == two.data()
    (tmp_path / "engine.pyz").write_bytes(one.data())
    names = zipfile.ZipFile(tmp_path / "engine.pyz").namelist()
    assert "__main__.py" in names and "sitecustomize.py" not in names
    assert b"module_utils._entry.zipmain import main" in zipfile.ZipFile(tmp_path / "engine.pyz").read("__main__.py")
    assert Engine(payload(str(tmp_path / "c.zip"), extra=" changed")).tag != one.tag


def test_a_changed_topology_updates_only_the_intent_and_a_new_engine_replaces_the_old(host, tmp_path):
    layout, zip_path = host
    persist(layout, zip_path).apply()
    changed = persist(layout, zip_path, steps=STEPS[:1])
    assert changed.actions == ["save intent /var/lib/nslab/labs/x/lab.json (1 steps)"]
    changed.apply()
    old = Engine(zip_path).tag
    upgraded = persist(layout, payload(str(tmp_path / "new.zip"), extra=" 1.1"), steps=STEPS[:1])
    new = Engine(str(tmp_path / "new.zip")).tag
    assert upgraded.actions == [f"install engine /usr/local/lib/nslab/{new}/nslab-engine.pyz",
                                "write unit /etc/systemd/system/nslab-x.service",
                                f"remove engine /usr/local/lib/nslab/{old}"]
    upgraded.apply()
    assert os.listdir(layout.engines()) == [new] and engine_of(open(layout.unit("x")).read()) == new


def test_removing_the_last_part_takes_unit_intent_and_engine_and_changes_nothing_twice(host):
    layout, zip_path = host
    persist(layout, zip_path).apply()
    removal = persist(layout, zip_path, state="absent")
    assert removal.after == {} and removal.before
    removal.apply()
    assert saved(layout) == [] and not os.path.exists(os.path.join(layout.root, "var/lib/nslab"))
    assert not os.path.exists(layout.engines())
    assert persist(layout, zip_path, state="absent").actions == []


@pytest.mark.parametrize("role", ["egress", "ingress"])
def test_a_role_removing_its_part_removes_the_whole_lab_s_part_too(host, role):
    layout, zip_path = host
    persist(layout, zip_path, part="lab").apply()        # saved by lab.yml
    removal = persist(layout, zip_path, state="absent", part=role)   # then the role, with nslab_persist: false
    assert "remove intent /var/lib/nslab/labs/x/lab.json" in removal.actions
    assert "/var/lib/nslab/labs/x/lab.json" in removal.before and removal.after == {}
    removal.apply()
    assert saved(layout) == [], "nothing left to rebuild what was removed"


def test_roles_save_parts_the_whole_lab_replaces_them_and_an_engine_stays_while_a_lab_runs_it(host):
    layout, zip_path = host
    persist(layout, zip_path, part="egress").apply()
    persist(layout, zip_path, part="ingress").apply()
    assert sorted(os.listdir(layout.intent_dir("x"))) == ["egress.json", "ingress.json"]
    only_egress = persist(layout, zip_path, state="absent", part="ingress")
    assert only_egress.actions == ["remove intent /var/lib/nslab/labs/x/ingress.json"], "the unit stays for egress"
    only_egress.apply()
    whole = persist(layout, zip_path, part="lab")
    assert "remove intent /var/lib/nslab/labs/x/egress.json" in whole.actions
    whole.apply()
    assert os.listdir(layout.intent_dir("x")) == ["lab.json"]
    persist(layout, zip_path, lab="y").apply()
    persist(layout, zip_path, state="absent").apply()           # lab x gone, lab y still runs the engine
    assert os.path.isdir(layout.intent_dir("y")) and os.listdir(layout.engines()) == [Engine(zip_path).tag]
    assert not os.path.exists(layout.unit("x")) and os.path.exists(layout.unit("y"))


@pytest.mark.parametrize("why, setup, payload_too", [
    ("sandbox", lambda root: open(os.path.join(root, "run", "nslab-sandbox-host"), "w").close(), True),
    ("has no systemd", lambda root: os.unlink(os.path.join(root, "usr", "lib", "systemd", "systemd")), True),
    ("no Ansible module payload", lambda root: None, False),
])
def test_a_host_that_cannot_rebuild_at_boot_is_refused_before_anything_is_written(host, why, setup, payload_too):
    layout, zip_path = host
    os.makedirs(os.path.join(layout.root, "run"))
    setup(layout.root)
    with pytest.raises(Invalid, match=why) as exc:
        persist(layout, zip_path if payload_too else None)
    assert exc.value.option == "persist" and "nslab_persist: false" in str(exc.value), "the fix is named"
    assert persist(layout, zip_path, state="absent").actions == [], "removing is never refused"


def test_on_a_sandbox_host_removing_touches_nothing_of_the_machine_s_own(host):
    layout, zip_path = host
    persist(layout, zip_path).apply()           # as if the machine itself had a persisted lab of that name
    os.makedirs(os.path.join(layout.root, "run"))
    open(os.path.join(layout.root, "run", "nslab-sandbox-host"), "w").close()
    assert persist(layout, zip_path, state="absent").actions == []
    assert os.path.exists(layout.unit("x")) and os.path.exists(layout.intent("x", "lab"))


def test_a_masked_unit_is_refused_and_left_alone(host):
    layout, zip_path = host
    os.makedirs(layout.units())
    os.symlink("/dev/null", layout.unit("x"))
    with pytest.raises(Invalid, match="nslab-x.service is masked") as exc:
        persist(layout, zip_path)
    assert "systemctl unmask nslab-x.service" in str(exc.value)
    assert persist(layout, zip_path, state="absent").actions == []
    assert os.readlink(layout.unit("x")) == "/dev/null"


@pytest.mark.parametrize("name", ["..", ".hidden", "a/b", ""])
def test_lab_and_part_names_are_safe_file_names(host, name):
    layout, zip_path = host
    with pytest.raises(Invalid, match="persist.part"):
        persist(layout, zip_path, part=name)


@pytest.mark.parametrize("state, wanted, saved_as", [
    ("present", True, "present"), ("present", False, "absent"), ("absent", True, "absent")])
def test_the_roles_persist_only_a_present_lab_that_asks_for_it(state, wanted, saved_as):
    assert lab_persist(dict(lab="x", persist=wanted), "egress", state) == dict(lab="x", part="egress", state=saved_as)
    assert lab_persist(dict(lab="x"), "lab", state)["state"] == "absent"


# ------------------------------------------------------------------------------------- boot
def test_boot_waits_for_an_uplink_only_when_a_host_nat_rule_takes_it_from_the_default_route():
    part = dict(steps=[s for s in STEPS if s["module"] != "ns_probe"])
    assert boot.needs_uplink([part])
    named = dict(steps=[dict(module="nat_rule", args=dict(items=[dict(type="masquerade", out_interface="eth0")]))])
    assert not boot.needs_uplink([named])
    inside = dict(steps=[dict(module="nat_rule", args=dict(netns="n1", items=[dict(type="masquerade", uplink=True)]))])
    assert not boot.needs_uplink([inside])


def test_boot_waits_for_the_uplink_then_fails_after_the_bound_naming_the_fix():
    now = [0.0]
    answers = iter([dict(interface=None, address=None)] * 3 + [dict(interface="eth0", address="203.0.113.5")])
    waited = boot.wait_for_uplink(10, "nslab-x.service", read=lambda: next(answers),
                                  sleep=lambda s: now.__setitem__(0, now[0] + s), clock=lambda: now[0])
    assert waited == 3
    now[0] = 0.0
    with pytest.raises(boot.BootError) as exc:
        boot.wait_for_uplink(2, "nslab-x.service", read=lambda: dict(interface="eth0", address=None),
                             sleep=lambda s: now.__setitem__(0, now[0] + s), clock=lambda: now[0])
    assert "no uplink after 2 s" in str(exc.value) and "nothing was built" in str(exc.value)
    assert "systemctl restart nslab-x.service" in str(exc.value) and boot.WAIT_ENV in str(exc.value)


def test_boot_says_it_waits_even_when_the_first_read_outlasts_the_bound(capsys):
    """A busy host (the engine's first netlink read slower than the bound) still tells the journal it waited."""
    now = [0.0]

    def slow_read():
        now[0] += 1.5
        return dict(interface=None, address=None)
    with pytest.raises(boot.BootError, match="no uplink after 1 s"):
        boot.wait_for_uplink(1, "nslab-x.service", read=slow_read, sleep=lambda s: None, clock=lambda: now[0])
    assert "waiting up to 1 s for the uplink" in capsys.readouterr().out


def test_boot_reads_the_saved_parts_in_order_and_says_what_is_missing(tmp_path):
    for name in ("ingress", "egress"):
        (tmp_path / f"{name}.json").write_text(f'{{"part": "{name}", "steps": []}}')
    assert [p["part"] for p in boot.load_parts(str(tmp_path))] == ["egress", "ingress"]
    with pytest.raises(boot.BootError, match="no saved intent"):
        boot.load_parts(str(tmp_path / "none"))
    (tmp_path / "lab.json").write_text("{not json")
    with pytest.raises(boot.BootError, match="cannot read the saved intent"):
        boot.load_parts(str(tmp_path))


def test_boot_without_pyroute2_fails_naming_the_package_and_builds_nothing(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, package=None: None)
    with pytest.raises(boot.BootError) as exc:
        boot.require_pyroute2("nslab-x.service")
    assert "pyroute2 is not importable" in str(exc.value) and "apt install python3-pyroute2" in str(exc.value)
    assert "nothing was built" in str(exc.value)
