# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""lab_dot / lab_mermaid: a diagram of a live lab from nslab.net.netns_info."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ansible_collections.nslab.net.plugins.module_utils._report.graph import to_dot, to_mermaid

if TYPE_CHECKING:
    from typing import Any, Callable

DOCUMENTATION = r"""
name: lab_dot
short_description: Graphviz DOT of a live lab, from the result of nslab.net.netns_info
version_added: 1.0.0
description:
  - Draws namespaces (as boxes with their default routes), veth pairs, the bridge and its ports,
    addresses, the uplink and the collection's NAT rules.
  - Also provides C(nslab.net.lab_mermaid), the same picture as a Mermaid flowchart.
positional: _input, title
options:
  _input:
    description: The registered result of M(nslab.net.netns_info).
    type: dict
    required: true
  title:
    description: Graph title.
    type: str
    default: lab
author:
  - nslab.net contributors (@nslab-net)
"""

EXAMPLES = r"""
dot: "{{ lab_info | nslab.net.lab_dot('lab1') }}"
"""

RETURN = r"""
_value:
  description: The diagram source.
  type: str
"""


def lab_dot(info: dict, title: str = "lab") -> str:
    return to_dot(info, title)


def lab_mermaid(info: dict, title: str = "lab") -> str:
    return to_mermaid(info, title)


class FilterModule:
    def filters(self) -> dict[str, Callable[..., Any]]:
        return dict(lab_dot=lab_dot, lab_mermaid=lab_mermaid)
