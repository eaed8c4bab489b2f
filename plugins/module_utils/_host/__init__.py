# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bottom layer: knows no resource. Errors and ownership marks, finding and running programs, files, input checks,
the netlink session and the readers of what the host has, the sandbox connection's code cache."""
