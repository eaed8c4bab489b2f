# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What nat_rule needs of a NAT backend, behind one interface (:class:`NatBackend`): ``natread.read_nat`` reads a
namespace with both tools, chooses one backend - the one place that does - and the resource talks to it only through
these methods. A new backend is one file implementing this class (``nat_iptables.py`` and ``nat_nftables.py`` are the
two there are) plus its line in ``natread.IMPLEMENTATIONS``, where ``backend: NAME`` chooses it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ansible_collections.nslab.net.plugins.module_utils._nat.rule import Rule


class NatBackend(ABC):
    """One namespace's NAT in one backend, as read once for the module run."""

    #: the backend's name, as the results and the messages say it
    name = ""

    @classmethod
    @abstractmethod
    def open(cls, ns: str | None, read: dict) -> NatBackend:
        """The backend for namespace ``ns`` from what ``natread.read_nat`` read there (``read``: ``ipt`` and ``ipt_state``,
        per family, ``nft`` and ``nft_state``: both tools are read for the firewalls beside the lab anyway); raises
        ``errors.Failure`` naming what is not installed when it cannot run there."""

    @abstractmethod
    def ours(self) -> dict:
        """This collection's rules: key -> entry (lab, type, key, digest, lines, the match read back...)."""

    @abstractmethod
    def rule_count(self, rule: Rule) -> int:
        """How many kernel rules one nat_rule item (``rule.Rule``) is made of here (fewer found: it is incomplete)."""

    @abstractmethod
    def render(self, remove: set, add: list, lab: str) -> list[tuple]:
        """The operations (text, fn) that remove ``lab``'s rules with the keys in ``remove`` and add the rules
        ``add``, in as few tool runs as the backend allows."""

    @abstractmethod
    def forward_blockers(self, bridges: set) -> list[dict]:
        """The firewalls of the backend's own kind that drop the routed traffic of ``bridges`` and that this
        collection opens in its own chain unless told not to (``firewall: fail`` refuses them instead)."""

    @abstractmethod
    def cannot_open(self) -> str | None:
        """Why this backend cannot let the lab's forwarded traffic through in its namespace, in words; None when it can."""
