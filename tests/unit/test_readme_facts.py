# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the README says the two commands install is what the Makefile installs."""

from __future__ import annotations

import os
import re

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def read(name: str) -> str:
    with open(os.path.join(REPO, name)) as fh:
        return fh.read()


def makefile_list(var: str) -> list[str]:
    return re.search(rf"^{var}\s*=\s*(.*)$", read("Makefile"), flags=re.M).group(1).split()


def test_the_readme_names_the_debian_packages_the_makefile_installs():
    text = " ".join(read("README.md").split("Both install what they need themselves:")[1].split("), and a virtualenv")[0]
                    .split())
    lab, test = text.split("(`make test` adds")
    assert re.findall(r"`([^`]+)`", lab) == makefile_list("LAB_APT_PACKAGES")
    assert re.findall(r"`([^`]+)`", test) == makefile_list("TEST_APT_PACKAGES")
