# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: sandbox
short_description: Run tasks inside an nslab.net sandbox host on the controller
version_added: 1.0.0
description:
  - Executes commands inside a sandbox host made by M(nslab.net.sandbox) (its own network,
    mount, UTS and PID namespaces) with C(nsenter), on the controller machine.
  - Files are copied through the sandbox's own mount namespace, so a file written to its
    private C(/etc) or C(/run) never lands on the machine itself.
author:
  - nslab.net contributors (@nslab-net)
options:
  remote_addr:
    description:
      - Name of the sandbox; defaults to the inventory host name (or the delegated host's).
    type: str
    default: inventory_hostname
    vars:
      - name: inventory_hostname
      - name: ansible_host
      - name: nslab_sandbox_name
  sandbox_root:
    description: Directory holding the sandboxes' state.
    type: str
    default: /run/nslab-sandbox
    vars:
      - name: nslab_sandbox_root
extends_documentation_fragment:
  - connection_pipelining
notes:
  - Needs root on the controller (C(nsenter) into the sandbox's namespaces).
  - Open a shell in a sandbox with C(nsenter -t $(cat /run/nslab-sandbox/NAME/pid) -n -m -u -p bash).
"""

import os
import subprocess

from ansible.errors import AnsibleConnectionFailure, AnsibleError, AnsibleFileNotFound
from ansible.module_utils.common.text.converters import to_bytes
from ansible.plugins.connection import ConnectionBase
from ansible.utils.display import Display

from ansible_collections.nslab.net.plugins.module_utils.sandbox import Sandbox

display = Display()


class Connection(ConnectionBase):
    """Commands and files inside a sandbox host."""

    transport = "nslab.net.sandbox"
    has_pipelining = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._box: Sandbox | None = None

    def _connect(self):
        if not self._connected:
            name = self.get_option("remote_addr")
            box = Sandbox(name, self.get_option("sandbox_root"))
            if not box.exists():
                raise AnsibleConnectionFailure(
                    f"sandbox {name!r} is not running under {box.root}: create it with the nslab.net.sandbox "
                    "role or module (playbooks/lab.yml does this when run without an inventory)")
            self._box = box
            self._connected = True
            display.vvv(f"SANDBOX {name} (holder pid {box.pid})", host=name)
        return self

    def exec_command(self, cmd, in_data=None, sudoable=True):
        super().exec_command(cmd, in_data=in_data, sudoable=sudoable)
        self._connect()
        argv = self._box.argv(["/bin/sh", "-c", cmd])
        display.vvv(f"EXEC {cmd}", host=self._box.name)
        proc = subprocess.run(argv, input=in_data, capture_output=True, check=False)
        return proc.returncode, proc.stdout, proc.stderr

    def put_file(self, in_path, out_path):
        super().put_file(in_path, out_path)
        self._connect()
        if not os.path.exists(to_bytes(in_path)):
            raise AnsibleFileNotFound(f"file or module does not exist: {in_path}")
        with open(to_bytes(in_path), "rb") as src:
            proc = subprocess.run(self._box.argv(["/bin/sh", "-c", 'cat > "$0"', out_path]), stdin=src,
                                  capture_output=True, check=False)
        if proc.returncode != 0:
            raise AnsibleError(f"failed to put {in_path} to {out_path} in sandbox {self._box.name}: "
                               f"{proc.stderr.decode(errors='replace')}")

    def fetch_file(self, in_path, out_path):
        super().fetch_file(in_path, out_path)
        self._connect()
        with open(to_bytes(out_path), "wb") as dst:
            proc = subprocess.run(self._box.argv(["cat", in_path]), stdout=dst, stderr=subprocess.PIPE, check=False)
        if proc.returncode != 0:
            raise AnsibleError(f"failed to fetch {in_path} from sandbox {self._box.name}: "
                               f"{proc.stderr.decode(errors='replace')}")

    def close(self):
        self._connected = False
