# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The engine's imports point downward: read from the sources (every import, at module level or inside a function),
the bottom layer imports nothing of the collection, the readers import only the bottom, and no two files import each
other through any path."""

from __future__ import annotations

import ast
import os

from nslabtest import REPO

UTILS = os.path.join(REPO, "plugins", "module_utils")
PACKAGE = "ansible_collections.nslab.net.plugins.module_utils"
#: knows no resource and imports nothing of the collection: errors, tools, validation, files, the syscall layer
BOTTOM = {"errors", "tools", "validate", "files", "pycode", "session", "natstate", "graph"}
#: what the host has, read: only the bottom beneath them
READERS = {"readers": BOTTOM, "firewalls": BOTTOM}


def imports() -> dict:
    """{file: the collection's module_utils files it imports}, every import statement counted."""
    graph = {}
    for entry in sorted(os.listdir(UTILS)):
        if not entry.endswith(".py") or entry == "__init__.py":
            continue
        name, found = entry[:-3], set()
        with open(os.path.join(UTILS, entry), encoding="utf-8") as fh:
            tree = ast.parse(fh.read())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == PACKAGE:
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(PACKAGE + "."):
                found.add(node.module[len(PACKAGE) + 1:].split(".")[0])
        graph[name] = found - {name}
    return graph


def cycles(graph: dict) -> list[set]:
    """The strongly connected components of more than one file (Tarjan's)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on.add(node)
        for dep in graph.get(node, ()):
            if dep not in index:
                visit(dep)
                low[node] = min(low[node], low[dep])
            elif dep in on:
                low[node] = min(low[node], index[dep])
        if low[node] == index[node]:
            part = set()
            while True:
                dep = stack.pop()
                on.discard(dep)
                part.add(dep)
                if dep == node:
                    break
            if len(part) > 1:
                out.append(part)
    for node in graph:
        if node not in index:
            visit(node)
    return out


def test_the_bottom_layer_and_the_readers_import_nothing_above_them():
    graph = imports()
    assert BOTTOM <= set(graph), sorted(BOTTOM - set(graph))
    upward = {name: sorted(graph[name] - BOTTOM) for name in BOTTOM if graph[name] - BOTTOM}
    upward.update({name: sorted(graph[name] - allowed) for name, allowed in READERS.items() if graph[name] - allowed})
    assert not upward, f"imports pointing up or sideways: {upward}"


def test_no_import_cycle():
    assert cycles(imports()) == []


def test_a_cycle_is_found():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]
