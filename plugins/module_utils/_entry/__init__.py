# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The entry points above everything: the batch module's run, the persisted engine's __main__ (the boot run, or
the student's nslab-check)."""
