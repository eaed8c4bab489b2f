# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The engine's imports point downward: read from the sources (every import, at module level or inside a function),
every file of plugins/module_utils lives in a layer's package and imports only its own package or a lower layer, and
no two files import each other through any path."""

from __future__ import annotations

import ast
import os

from nslabtest import REPO

UTILS = os.path.join(REPO, "plugins", "module_utils")
PACKAGE = "ansible_collections.nslab.net.plugins.module_utils"
#: the layers, bottom first: a file imports files of its own package or of a package of a lower rank, never one
#: beside it (the same rank) or above it (ARCHITECTURE.md, "The layers")
RANK = {"_host": 0, "_engine": 1, "_resources": 2, "_nat": 2, "_persist": 2, "_sandbox": 2, "_lab": 3, "_report": 4,
        "_entry": 5}


def imports() -> dict:
    """{"package.file": the collection's module_utils files it imports, as "package.file"}, every import statement
    counted (at module level or inside a function)."""
    graph = {}
    for package in sorted(os.listdir(UTILS)):
        folder = os.path.join(UTILS, package)
        if not os.path.isdir(folder) or package == "__pycache__":
            continue
        for entry in sorted(os.listdir(folder)):
            if not entry.endswith(".py") or entry == "__init__.py":
                continue
            name, found = f"{package}.{entry[:-3]}", set()
            with open(os.path.join(folder, entry), encoding="utf-8") as fh:
                tree = ast.parse(fh.read())
            for node in ast.walk(tree):
                if not isinstance(node, ast.ImportFrom) or not (node.module or "").startswith(PACKAGE + "."):
                    continue
                parts = node.module[len(PACKAGE) + 1:].split(".")
                if len(parts) == 1:                    # from PACKAGE.pkg import file
                    found.update(f"{parts[0]}.{alias.name}" for alias in node.names)
                else:
                    found.add(f"{parts[0]}.{parts[1]}")
            graph[name] = found - {name}
    return graph


def offending(graph: dict) -> dict:
    """{file: its imports pointing up or sideways between the layers}."""
    out = {}
    for name, deps in graph.items():
        here = RANK[name.split(".")[0]]
        bad = sorted(dep for dep in deps
                     if dep.split(".")[0] != name.split(".")[0] and RANK[dep.split(".")[0]] >= here)
        if bad:
            out[name] = bad
    return out


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


def test_every_file_is_in_a_layer_and_imports_point_down():
    loose = [f for f in os.listdir(UTILS) if f.endswith(".py")]
    assert loose == [], f"files outside the layers' packages: {loose}"
    packages = {f for f in os.listdir(UTILS) if os.path.isdir(os.path.join(UTILS, f)) and f != "__pycache__"}
    assert packages == set(RANK), packages ^ set(RANK)
    graph = imports()
    assert len(graph) > 30 and all(graph[name] <= set(graph) for name in graph)
    assert offending(graph) == {}, f"imports pointing up or sideways: {offending(graph)}"


def test_an_upward_or_sideways_import_is_found():
    graph = {"_host.a": {"_engine.b"}, "_nat.c": {"_resources.d", "_host.a", "_nat.e"}, "_entry.f": {"_report.g"}}
    assert offending(graph) == {"_host.a": ["_engine.b"], "_nat.c": ["_resources.d"]}


def test_no_import_cycle():
    assert cycles(imports()) == []


def test_a_cycle_is_found():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]


def signatures() -> tuple[int, int, list[str]]:
    """(fully typed, all, the untyped ones as file:line name) over every function of plugins/: each parameter but
    self/cls annotated (``*args`` and ``**kwargs`` too), and a return type unless it is ``__init__``."""
    typed = total = 0
    untyped = []
    plugins = os.path.join(REPO, "plugins")
    for folder, _dirs, files in sorted(os.walk(plugins)):
        for entry in sorted(files):
            if not entry.endswith(".py"):
                continue
            path = os.path.join(folder, entry)
            with open(path, encoding="utf-8") as fh:
                tree = ast.parse(fh.read())
            for node in ast.walk(tree):
                if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    continue
                params = node.args.posonlyargs + node.args.args + node.args.kwonlyargs
                if params and params[0].arg in ("self", "cls"):
                    params = params[1:]
                params += [p for p in (node.args.vararg, node.args.kwarg) if p]
                full = all(p.annotation is not None for p in params) and (node.returns is not None or node.name == "__init__")
                total += 1
                typed += full
                if not full:
                    untyped.append(f"{os.path.relpath(path, plugins)}:{node.lineno} {node.name}")
    return typed, total, untyped


def test_nine_in_ten_function_signatures_of_plugins_are_fully_typed():
    typed, total, untyped = signatures()
    share = f"{typed} of {total} signatures fully typed ({typed / total:.0%}); untyped: {untyped[:30]}"
    assert total > 600 and typed / total >= 0.9, share


def test_no_file_of_module_utils_is_over_400_lines():
    """A file that grows past 400 lines mixes two things: split it where it does (ARCHITECTURE.md, "The layers")."""
    long = {}
    for name in imports():
        package, module = name.split(".")
        with open(os.path.join(UTILS, package, module + ".py"), encoding="utf-8") as fh:
            count = sum(1 for _line in fh)
        if count > 400:
            long[name] = count
    assert long == {}, long
