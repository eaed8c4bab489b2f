# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The engine every resource module runs through: Resource, Item, Call (prepare, read, plan, apply, report), Plan,
Context, the host lock."""
