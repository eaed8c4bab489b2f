# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A lab that survives a reboot: the intent, the engine zip and its unit (persist), the boot run (boot), the
hand-out record (record)."""
