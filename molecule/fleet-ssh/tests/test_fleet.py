"""The fleet over SSH, checked with pytest-testinfra's ansible backend against the scenario's
inventory (each VM reached with ssh as the inventory says, sudo where it says become): the
distribution's own pyroute2 package, and the lab's facts with real traffic."""

from __future__ import annotations

import json
import socket
import urllib.request

import pytest

PUBLIC = "198.51.100.10"
DEFAULT_NAMESPACES = [{"name": "netns1", "address": "192.168.0.2"}, {"name": "netns2", "address": "192.168.0.3"}]
PACKAGED = {"deb12": "0.7.2", "deb12-sudo": "0.7.2", "deb13": "0.7.7", "bare": "0.7.2"}


def _vars(host) -> dict:
    return host.backend.get_variables()


def _namespaces(host) -> list[dict]:
    return _vars(host).get("nslab_namespaces", DEFAULT_NAMESPACES)


def _uplink(host) -> str:
    addrs = json.loads(host.check_output("ip -j -4 addr show dev eth0"))
    return addrs[0]["addr_info"][0]["local"]


def test_reached_over_plain_ssh_with_the_systems_python(host):
    variables = _vars(host)
    assert variables.get("ansible_connection", "ssh") == "ssh"
    assert variables["ansible_python_interpreter"] == "/usr/bin/python3"
    assert host.check_output("id -u") == "0", "root, directly or through sudo"
    if variables["inventory_hostname"] == "deb12-sudo":
        assert variables["ansible_user"] == "student" and variables["ansible_become"]


def test_pyroute2_is_the_distributions_package_not_pip(host):
    name = _vars(host)["inventory_hostname"]
    status = host.check_output("dpkg-query -W -f '${Status} ${Version}' python3-pyroute2")
    assert status.startswith("install ok installed " + PACKAGED[name]), status
    where = host.check_output("/usr/bin/python3 -c 'import pyroute2, importlib.metadata as m; "
                              "print(pyroute2.__file__, m.version(\"pyroute2\"))'")
    path, version = where.split()
    assert path.startswith("/usr/lib/python3/dist-packages/pyroute2/"), where
    assert version == PACKAGED[name]
    assert host.run("/usr/bin/python3 -m pip --version").rc != 0, "no pip on the VM, so no pip pyroute2"
    assert host.check_output("ls -d /usr/local/lib/python3*/dist-packages/pyroute2* 2>/dev/null || true") == ""


def test_bare_vm_installed_pyroute2_from_the_local_repository(host):
    if _vars(host)["inventory_hostname"] != "bare":
        pytest.skip("only the bare VM installs pyroute2 during the run")
    policy = host.check_output("apt-cache policy python3-pyroute2")
    assert "http://192.0.2.1:8000 ./" in policy, policy
    assert "Installed: 0.7.2" in policy


def _ping(host, target, netns=None):
    prefix = f"ip netns exec {netns} " if netns else ""
    return host.run(f"{prefix}ping -n -q -c 1 -w 3 {target}").rc == 0


def test_host_and_namespaces_reach_each_other(host):
    spaces = _namespaces(host)
    uplink = _uplink(host)
    for ns in spaces:
        assert _ping(host, ns["address"]), f"host -> {ns['name']}"
        assert _ping(host, uplink, ns["name"]), f"{ns['name']} -> host"
        for other in spaces:
            if other is not ns:
                assert _ping(host, other["address"], ns["name"]), f"{ns['name']} -> {other['name']}"


def test_namespaces_reach_the_internet_through_masquerade(host):
    uplink = _uplink(host)
    for ns in _namespaces(host):
        seen = host.check_output(f"ip netns exec {ns['name']} /usr/bin/python3 -c "
                                 f"'import urllib.request; print(urllib.request.urlopen(\"http://{PUBLIC}/\", "
                                 f"timeout=3).read().decode())'")
        assert seen.strip() == f"seen-from {uplink}", f"{ns['name']}: the public server saw {seen!r}"


def test_controller_reaches_the_published_port(host):
    uplink = _uplink(host)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"http://{uplink}:5000/", timeout=3) as resp:
        assert "nslab demo service in netns1" in resp.read().decode()
    with pytest.raises(OSError):          # sshd listens on the management address only
        socket.create_connection((uplink, 22), timeout=3).close()


def test_nat_rules_carry_the_lab_label(host):
    rules = host.check_output("iptables-save -t nat")
    assert "NSLAB-POST" in rules and "nslab:nslab" in rules


def test_the_demo_service_runs_unprivileged_and_serves_only_its_directory(host):
    served = [line.split(None, 2) for line in host.check_output("ps -eo uid=,user=,args=").splitlines()
              if "-m http.server" in line and "nslab-service:" not in line]
    assert served, "the demo service is running"
    for uid, user, args in served:
        assert (uid, user) == ("65534", "nobody"), args
        assert "--directory /run/nslab/www/netns1-5000" in args, args


def test_ufw_stays_enabled_with_its_defaults_beside_the_lab(host):
    if _vars(host)["inventory_hostname"] != "deb12-sudo":
        pytest.skip("ufw is enabled on deb12-sudo")
    status = host.check_output("ufw status verbose")
    assert "Status: active" in status, status
    assert "deny (incoming)" in status and "deny (routed)" in status, status    # Ubuntu's and Debian's defaults
