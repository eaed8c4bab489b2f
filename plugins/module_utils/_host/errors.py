# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bottom layer's words: the errors every layer raises, the lab's ownership mark, where a thing is.

Nothing here imports the collection: every other file may import it, and it knows no resource."""

from __future__ import annotations

from typing import TypeVar


class Conflict(Exception):
    """Something is in the way that the collection did not create."""


class Failure(Exception):
    """A kernel or tool error while applying, already worded for the user."""


def owner_tag(lab: str) -> str:
    """The mark this collection puts on what it makes (an interface alias, the lo of a namespace it made)."""
    return f"nslab:{lab}"


def parse_owner(alias: str | None) -> tuple[str | None, str]:
    """'nslab:LAB extra words' -> ('LAB', 'extra words'); foreign -> (None, '')."""
    if not alias or not alias.startswith("nslab:"):
        return None, ""
    head, _sep, rest = alias.partition(" ")
    return head[len("nslab:"):], rest


def where(ns: str | None) -> str:
    """A namespace as a message names it."""
    return f"netns {ns}" if ns else "the host namespace"


T = TypeVar("T")


def known(value: T | None) -> T:
    """``value``, which the code already relies on being set there (a required option, a tool found by
    ``available()``): the type checker's narrowing, without a check at run time (ansible-test forbids ``assert`` in
    plugins, and a check here would only change which error an impossible path raises)."""
    return value  # type: ignore[return-value]
