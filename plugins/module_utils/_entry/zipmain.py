# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The engine zip's ``__main__`` (persist.py writes it as ``nslab-engine.pyz``): ``nslab-engine.pyz check [...]`` is
the student's ``nslab-check`` (:mod:`checkcli`), anything else the boot run (:mod:`boot`). It sits above both, so that
neither imports the other; the batch module imports it, so every payload it saves as an engine carries it."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["check"]:
        from ansible_collections.nslab.net.plugins.module_utils._entry.checkcli import main as check_main

        raise SystemExit(check_main(argv[1:]))
    from ansible_collections.nslab.net.plugins.module_utils._persist.boot import main as boot_main

    boot_main(argv)
