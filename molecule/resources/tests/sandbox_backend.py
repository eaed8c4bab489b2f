"""A testinfra backend that runs commands inside an nslab.net sandbox host.

testinfra's ansible backend does not know custom connection plugins (it would
fall back to one ansible call per command); this one uses nsenter directly.
"""

from __future__ import annotations

import os

from testinfra.backend import base


class SandboxBackend(base.BaseBackend):
    NAME = "nslab-sandbox"

    def __init__(self, hostname: str, *args, **kwargs):
        self.sandbox = hostname
        self.root = os.environ.get("NSLAB_SANDBOX_ROOT", "/run/nslab-sandbox")
        super().__init__(hostname, **kwargs)

    @classmethod
    def get_hosts(cls, host, **kwargs):
        return [host]

    def get_pytest_id(self):
        return f"{self.NAME}://{self.sandbox}"

    def pid(self) -> str:
        with open(os.path.join(self.root, self.sandbox, "pid")) as fh:
            return fh.read().strip()

    def run(self, command, *args, **kwargs):
        cmd = self.get_command(command, *args)
        return self.run_local("nsenter -t %s -n -m -u -p -- /bin/sh -c %s", self.pid(), cmd)
