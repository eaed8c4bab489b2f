"""One payload for every module that runs on a managed host (plugins/action/batch.py, meta/runtime.yml,
module_utils/_entry/dispatch.py): every such module is routed to the batch action, the batch module runs the entry
point of the module a task named, and that entry point is the module's own - it imports what the module file imports.
No root needed; the end-to-end proof is tests/integration/test_modules.py (a playbook's tasks against the modules'
own entry points)."""

from __future__ import annotations

import ast
import inspect
import json
import os
import subprocess
import sys

import pytest
import yaml

from ansible_collections.nslab.net.plugins.module_utils._entry import dispatch

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODULES = os.path.join(REPO, "plugins", "modules")
ON_THE_CONTROLLER = {"lab_results"}     # writes the class's files where ansible-playbook runs: its own payload


def routed() -> dict:
    with open(os.path.join(REPO, "meta", "runtime.yml")) as fh:
        return {name: entry.get("action_plugin") for name, entry in yaml.safe_load(fh)["plugin_routing"]["modules"].items()}


def test_every_module_on_a_managed_host_is_routed_to_the_batch_payload():
    modules = {name[:-3] for name in os.listdir(MODULES) if name.endswith(".py") and name != "__init__.py"}
    assert set(routed()) == modules - ON_THE_CONTROLLER - {"batch"}
    assert set(routed().values()) == {"nslab.net.batch"}
    assert set(dispatch.ENTRY_POINTS) == modules - ON_THE_CONTROLLER


def collection_imports(tree: ast.AST) -> set:
    """The names a piece of code imports from the collection's module_utils."""
    return {(node.module.rsplit(".", 1)[-1], alias.name) for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module and ".module_utils." in node.module for alias in node.names}


@pytest.mark.parametrize("name", sorted(dispatch.ENTRY_POINTS))
def test_an_entry_point_runs_what_the_module_itself_runs(name):
    with open(os.path.join(MODULES, f"{name}.py")) as fh:
        module = ast.parse(fh.read())
    entry = ast.parse(inspect.getsource(dispatch.ENTRY_POINTS[name]))
    if name == "batch":
        assert collection_imports(module) == {("_entry", "dispatch")}
        assert collection_imports(entry) == {("batch", "run_batch")}
    else:
        assert collection_imports(entry) == collection_imports(module)


@pytest.mark.parametrize(("named", "runs"), [
    ("nslab.net.veth", "veth"), ("nslab.net.lab_check", "lab_check"), ("nslab.net.batch", "batch"),
    (None, "batch"),                    # no controller: the tests' args files, the persisted engine's boot run
    ("veth", "veth"),                   # a short name under the collections keyword: only our modules have this action
    ("nslab.net.lab_results", "batch"), ("lab_results", "batch"), ("other.net.veth", "batch"),
    ("ansible.legacy.veth", "batch"), ("nslab.net.nonesuch", "batch"),
])
def test_the_module_run_is_the_one_the_task_named(tmp_path, named, runs):
    args = {"steps": []} if named is None else {"steps": [], "_ansible_module_name": named}
    path = tmp_path / "args.json"
    path.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
    code = ("import sys; sys.argv = ['x', sys.argv[1]]\n"
            "from ansible_collections.nslab.net.plugins.module_utils._entry import dispatch\n"
            "print(dispatch.requested())")
    proc = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=False,
                          env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == runs
