# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the lab looks like and how it is doing: probes, the check and its diagnosis, netns_info, the picture, the
report, the grade and the class page."""
