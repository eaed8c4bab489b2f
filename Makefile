# nslab.net - the two commands of the README:
#   make lab    set everything up, build the default lab in a sandbox, print the report
#   make test   set everything up, run every test (tests/README.md: unit, module, molecule, fleet over SSH,
#               README, gates, matrix), printing a table of its stages and their times
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV         ?= .venv
# the lab's Debian packages, and what the tests add (README.md, "Quickstart", lists both)
LAB_APT_PACKAGES  = iproute2 iptables nftables iputils-ping curl tcpdump util-linux procps git graphviz python3-venv
TEST_APT_PACKAGES = mmdebstrap dpkg-dev openssh-client python3-pyroute2 shellcheck chromium
PYENV_ROOT   ?= $(HOME)/.pyenv
PY311        := $(firstword $(wildcard $(PYENV_ROOT)/versions/3.11*/bin/python3.11) $(shell command -v python3.11))
PY39         := $(firstword $(wildcard $(PYENV_ROOT)/versions/3.9*/bin/python3.9) $(shell command -v python3.9))
# The controller's Python: the newest Python >= 3.11 on PATH or in pyenv (not its shims), with venv.
# pip then picks the newest ansible-core that supports it (2.21 on 3.12 - 3.14, 2.19 on 3.11).
# (worked out once, when a recipe first needs it: after apt-lab has installed python3-venv)
FIND_PYTHON = $(shell for d in $$(echo "$$PATH" | tr : ' ') $(PYENV_ROOT)/versions/*/bin; do \
  case $$d in (*/shims) continue;; esac; \
  for p in $$d/python3.[0-9] $$d/python3.[0-9][0-9]; do test -x $$p || continue; \
    $$p -c 'import sys, venv, ensurepip; v = sys.version_info; v >= (3, 11) and print("%d.%03d.%03d" % v[:3])' \
      2>/dev/null | sed "s|$$| $$p|"; done; done | sort | tail -n 1 | cut -d' ' -f2)
BASE_PYTHON ?= $(eval BASE_PYTHON := $(FIND_PYTHON))$(BASE_PYTHON)
ANSIBLE_CORE ?= ansible-core>=2.19,<2.22
CORE_NEW     := ansible-core>=2.21,<2.22
# cryptography 51 deprecates DSA, which ansible-core 2.21's ssh-agent code imports: every ansible command
# would print a CryptographyDeprecationWarning; 50 is the newest that does not
LAB_REQUIREMENTS := 'pyroute2>=0.7.2,<0.10' 'cryptography<51'
PYTHON       := $(VENV)/bin/python
COLLECTIONS  := $(CURDIR)/.cache/collections
PIP          := -m pip install -q --disable-pip-version-check
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export MOLECULE_GLOB := molecule/*/molecule.yml
PYTEST_ARGS  ?=
HOST         ?= lab1
SANDBOX_ROOT ?= /run/nslab-sandbox

.PHONY: help setup dev system-packages apt-lab apt-test readme venv collection lab teardown graph docs-graph shell test test-quick \
        unit integration property molecule sanity lint changelog installed matrix \
        matrix-debian12 matrix-managed-py39 matrix-core218 matrix-core219 matrix-managed matrix-controller pytest coverage typecheck \
        bench bench-smoke bench-tasks fleet-ssh bench-fleet class bench-class

help:
	@echo "make lab      - set up everything and build the default lab in a sandbox (the main job)"
	@echo "make test     - set up everything and run all tests (tests/README.md: the plan, each stage's time)"
	@echo "make test-quick - unit and planner tests, ansible-lint, mypy and ruff, sanity (the edit-run loop, under 3 minutes)"
	@echo "make coverage - coverage of plugins/ by the unit, module and property tests"
	@echo "make teardown - remove the lab and every sandbox host on this machine"
	@echo "make class STUDENTS=30 - write class.yml (a sandbox lab host per student) and hand it out"
	@echo "make shell    - a shell inside the sandbox host (HOST=lab1)"
	@echo "make graph    - draw the live lab into nslab-graph/ (make docs-graph: into docs/, committed)"
	@echo "make bench    - the benchmark behind BENCHMARKS.md"
	@echo "make typecheck - mypy over plugins/, ruff over plugins/ and tests/"
	@echo "make fleet-ssh   - the lab VMs over real SSH scenario (molecule/fleet-ssh)"
	@echo "make bench-tasks - each module task of the module list form against a ping (BENCHMARKS.md)"
	@echo "make bench-fleet - lab.yml against 1, 4 and 8 lab VMs over SSH (BENCHMARKS.md)"

# ------------------------------------------------------------------- setup
system-packages: apt-lab
apt-lab apt-test: apt-%:
	@missing=""; for p in $($(if $(filter lab,$*),LAB,TEST)_APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

$(VENV)/.done: Makefile
	@test -n "$(BASE_PYTHON)" || { echo "no Python 3.11 or newer with venv found on PATH or in pyenv ($(PYENV_ROOT)): install one (apt install python3 python3-venv), or set BASE_PYTHON=/path/to/python3"; exit 1; }
	@echo "virtualenv $(VENV) with $(BASE_PYTHON) ($$($(BASE_PYTHON) -V)) and the newest $(ANSIBLE_CORE) it supports"
	$(BASE_PYTHON) -m venv $(VENV)
	$(PYTHON) $(PIP) '$(ANSIBLE_CORE)' $(LAB_REQUIREMENTS)
	@$(PYTHON) -c 'from ansible.release import __version__ as v; import sys; print("ansible-core", v, "on Python", sys.version.split()[0])'
	touch $@

# what the tests need on top (molecule, testinfra, ansible-lint, ...)
$(VENV)/.dev-done: $(VENV)/.done requirements-dev.txt
	$(PYTHON) $(PIP) '$(ANSIBLE_CORE)' -r requirements-dev.txt
	touch $@

venv: $(VENV)/.done

dev: setup apt-test $(VENV)/.dev-done

collection:
	@mkdir -p $(COLLECTIONS)/ansible_collections/nslab
	@ln -sfn ../../../.. $(COLLECTIONS)/ansible_collections/nslab/net

setup: system-packages venv collection

# --------------------------------------------------------------- the lab
lab: setup
	$(VENV)/bin/ansible-playbook playbooks/lab.yml

# every sandbox host the collection made on this machine (the default lab1, a class...), each named
teardown: setup
	$(VENV)/bin/ansible-playbook playbooks/teardown.yml -e nslab_sandbox_purge=true

# a class of sandbox students on this machine: class.yml (student01 ...; kept when it exists), handed out
STUDENTS ?= 30
CLASS ?= class.yml
class: setup
	$(VENV)/bin/ansible-playbook playbooks/class.yml -e nslab_students=$(STUDENTS) -e nslab_class_file=$(CURDIR)/$(CLASS)
	$(VENV)/bin/ansible-playbook -i $(CLASS) playbooks/lab.yml

graph: setup
	$(VENV)/bin/ansible-playbook playbooks/graph.yml

# the picture committed in docs/ (the README shows it), redrawn from the live default lab
docs-graph: setup
	$(VENV)/bin/ansible-playbook playbooks/graph.yml -e nslab_graph_dir=docs

shell:
	@test -f $(SANDBOX_ROOT)/$(HOST)/pid || { echo "no sandbox $(HOST) under $(SANDBOX_ROOT): run make lab first"; exit 1; }
	nsenter -t $$(cat $(SANDBOX_ROOT)/$(HOST)/pid) -n -m -u -p bash

# ----------------------------------------------------------------- tests
# one id per run, inherited by every process it starts: the suite's leftover check counts only those
ifndef NSLAB_RUN_ID
NSLAB_RUN_ID := $(shell cat /proc/sys/kernel/random/uuid)
endif
export NSLAB_RUN_ID
# Everything, with this machine's own network fingerprinted before and after. tests/README.md is the
# plan: what each stage alone proves. Stages joined by + run side by side (each leaves a core idle
# much of the time: tests wait on probes' timeouts, captures and sshd); tests/stages.py prints their
# wall and CPU times at the end and every failed stage's log. TEST_FILL: the next group also starts early,
# one at a time, whenever this many of the cores have been idle for 10 s (stages waiting on probes and sshd).
TEST_STAGES ?= pytest+sanity+lint+typecheck+changelog+installed fleet-ssh matrix-controller matrix-managed readme molecule bench-smoke
TEST_FILL ?= 0.5
test: dev
	@mkdir -p .cache && $(PYTHON) tests/hostnet.py save .cache/hostnet-before.json
	@$(PYTHON) tests/stages.py --fill $(TEST_FILL) $(TEST_STAGES); status=$$?; \
	  $(PYTHON) tests/hostnet.py check .cache/hostnet-before.json && exit $$status

# The edit-run loop (under 3 minutes): unit and planner tests beside ansible-lint, then sanity.
test-quick: dev
	@$(PYTHON) tests/stages.py unit+lint+typecheck+changelog sanity

# Coverage of plugins/ (line and branch) by the pytest stage, modules run inside the sandboxes included
# (tests/coverage.ini); tests/README.md records the numbers.
coverage: dev
	rm -rf .cache/coverage && mkdir -p .cache/coverage
	NSLAB_COVERAGE_SOURCE=$(CURDIR)/plugins NSLAB_COVERAGE_DATA=$(CURDIR)/.cache/coverage/data \
	  $(PYTHON) -m pytest -q -p no:cacheprovider -n 2 --dist loadgroup --cov --cov-config=tests/coverage.ini \
	  --cov-report= tests/unit tests/integration tests/property $(PYTEST_ARGS)
	$(PYTHON) tests/coverage_summary.py .cache/coverage/data

# three workers on two cores: the playbook tests wait on probes' timeouts and captures much of the time
PYTEST_WORKERS ?= 3
pytest:
	$(PYTHON) -m pytest -q -n $(PYTEST_WORKERS) --dist loadgroup --durations=15 tests/unit tests/integration tests/property $(PYTEST_ARGS)

unit: dev
	$(PYTHON) -m pytest -q tests/unit $(PYTEST_ARGS)

integration: dev
	$(PYTHON) -m pytest -q -n 2 tests/integration $(PYTEST_ARGS)

property: dev
	$(PYTHON) -m pytest -q -n 2 tests/property $(PYTEST_ARGS)

# every scenario on sandbox hosts; fleet-ssh (below) needs the controller sandbox
SANDBOX_SCENARIOS := $(filter-out fleet-ssh,$(notdir $(patsubst %/molecule.yml,%,$(wildcard molecule/*/molecule.yml))))
molecule: dev
	set -e; for s in $(SANDBOX_SCENARIOS); do \
	  PATH=$(CURDIR)/$(VENV)/bin:$$PATH NO_COLOR=1 $(VENV)/bin/molecule test -s $$s; done

# Lab VMs over real SSH (molecule/fleet-ssh): molecule runs inside the controller sandbox, from a
# controller virtualenv without pyroute2; the VMs' roots are cached in $(NSLAB_CACHE)/roots.
NSLAB_CACHE ?= /var/cache/nslab
export NSLAB_CACHE
FLEET_VENV  := .venv-fleet
$(FLEET_VENV)/.done: requirements-dev.txt Makefile
	$(BASE_PYTHON) -m venv $(FLEET_VENV)
	$(FLEET_VENV)/bin/python $(PIP) '$(CORE_NEW)' 'cryptography<51' $$(grep -E '^(molecule|pytest-testinfra|pytest)\b' requirements-dev.txt)
	@! $(FLEET_VENV)/bin/python -c 'import pyroute2' 2>/dev/null || { echo "$(FLEET_VENV) must not have pyroute2"; exit 1; }
	touch $@

fleet-ssh: dev $(FLEET_VENV)/.done
	$(PYTHON) tests/fleet/world.py roots molecule/fleet-ssh/world.yml
	$(PYTHON) tests/fleet/world.py run -- env NSLAB_WORLD_PYTHON=$(CURDIR)/$(PYTHON) PATH=$(CURDIR)/$(FLEET_VENV)/bin:$$PATH \
	  NO_COLOR=1 MOLECULE_GLOB='molecule/*/molecule.yml' $(FLEET_VENV)/bin/molecule test -s fleet-ssh

# the README's Quickstart, Install and Lab command blocks, run as a newcomer copies them: from a fresh
# clone, with Python 3.12 (pyenv's) as the only Python >= 3.11 on a restricted PATH
readme: dev
	$(PYTHON) -m pytest -q -p no:cacheprovider tests/readme $(PYTEST_ARGS)

lint: dev
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(VENV)/bin/ansible-lint --profile production

# mypy over plugins/ (tests/mypy.ini; from .cache/collections, where the collection imports as ansible_collections.nslab.net)
# and ruff over plugins/ and tests/ (tests/ruff.toml); the share of typed signatures is a unit test (test_layers.py)
typecheck: dev
	cd .cache/collections && ../../$(VENV)/bin/mypy --config-file ../../tests/mypy.ini ansible_collections/nslab/net/plugins
	$(VENV)/bin/ruff check --config tests/ruff.toml plugins tests

changelog: dev
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(VENV)/bin/antsibull-changelog lint

sanity: dev
	tests/sanity/run.sh $(VENV)

installed: dev
	tests/installed.sh $(VENV)

# Performance: bash vs plain Ansible vs nslab.net (BENCHMARKS.md); CI runs the small smoke.
bench: dev
	$(PYTHON) $(PIP) matplotlib 'mitogen>=0.3.50'
	$(PYTHON) tests/perf/bench.py --sizes 1 10 100 1000 --runs 3 --plain-max 10

# each module task against a ping (tests/perf/tasks.md), then BENCHMARKS.md again from the last make bench's results
bench-tasks: dev
	$(PYTHON) tests/perf/tasks.py --sizes 1 --runs 3
	$(PYTHON) -c 'import sys; sys.path.insert(0, "tests/perf"); from report import write_report; write_report("tests/perf/results/latest.json")'

# the fleet rows of BENCHMARKS.md: lab.yml against 1, 4 and 8 VMs over SSH, inside the controller sandbox

bench-fleet: dev $(FLEET_VENV)/.done
	$(PYTHON) tests/fleet/world.py roots molecule/fleet-ssh/world.yml
	$(PYTHON) tests/fleet/world.py run -- $(PYTHON) tests/perf/fleet_bench.py --sizes 1 4 8 --runs 3

# a class of 30 sandbox students: hand out, grade, teardown (BENCHMARKS.md, "A class")
bench-class: dev
	$(PYTHON) tests/perf/class_bench.py --students $(STUDENTS) --runs 3

bench-smoke:
	$(PYTHON) $(PIP) 'mitogen>=0.3.50'
	$(PYTHON) tests/perf/bench.py --sizes 1 --runs 1 --no-report --out .cache/bench-smoke.json

# Compatibility matrix: each cell runs only what differs between cells. Managed side (the Python and
# pyroute2 that run the modules): Debian 12's python3-pyroute2 runs every module alone (fleet-ssh runs
# lab.yml's batch and the boot engine on it over SSH); Python 3.9 with pyroute2 0.7.2 the module,
# batch and boot-engine tests. Controller (ansible-core 2.18 and 2.19 on Python 3.11): the playbook
# tests and seed 002 through the modules one by one.
matrix: matrix-managed matrix-controller
matrix-managed: matrix-debian12 matrix-managed-py39
matrix-controller: matrix-core218 matrix-core219

MANAGED_TESTS := tests/integration/test_modules.py tests/integration/test_batch.py tests/integration/test_engine.py \
                 tests/integration/test_netlink.py

# managed side, Debian 12 as shipped: the system /usr/bin/python3 with Debian's python3-pyroute2 package
matrix-debian12: dev
	/usr/bin/python3 -c 'import importlib.metadata as m, pyroute2, sys; \
	  assert pyroute2.__file__.startswith("/usr/lib/python3/dist-packages/"), pyroute2.__file__; \
	  print("Debian 12 cell: python", sys.version.split()[0], "python3-pyroute2", m.version("pyroute2"))'
	NSLAB_MANAGED_PYTHON=/usr/bin/python3 $(PYTHON) -m pytest -q -n 2 -p no:cacheprovider tests/integration/test_modules.py

# managed side: Python 3.9 with pip's pyroute2 0.7.2 (the oldest supported pair)
.venv-managed-py39/.done:
	@test -n "$(PY39)" || { echo "no Python 3.9 (pyenv) for the managed-side cell"; exit 1; }
	$(PY39) -m venv .venv-managed-py39 && .venv-managed-py39/bin/python $(PIP) 'pyroute2==0.7.2' && touch $@

matrix-managed-py39: dev .venv-managed-py39/.done
	NSLAB_MANAGED_PYTHON=$(CURDIR)/.venv-managed-py39/bin/python \
	  $(PYTHON) -m pytest -q -n 2 -p no:cacheprovider $(MANAGED_TESTS) \
	  tests/integration/test_reliability.py::test_publishing_and_changing_a_port_take_effect_for_running_flows

# controller: ansible-core 2.18 and 2.19 on Python 3.11
.venv-core%/.done: requirements-dev.txt
	@test -n "$(PY311)" || { echo "no Python 3.11 for the controller cells"; exit 1; }
	$(PY311) -m venv .venv-core$* && .venv-core$*/bin/python $(PIP) \
	  "ansible-core>=2.$(patsubst 2%,%,$*).0,<2.$(shell echo $$(( $(patsubst 2%,%,$*) + 1 ))).0" \
	  'pyroute2>=0.7.2,<0.10' pytest pytest-xdist && touch $@

CONTROLLER_TESTS := tests/integration/test_lab_playbook.py "tests/integration/test_seeds.py::test_seed_002_egress_and_ingress[iptables]" \
  tests/integration/test_modules.py::test_a_task_runs_the_batch_payload_and_returns_what_the_module_itself_returns
matrix-core218 matrix-core219: matrix-core%: dev .venv-core%/.done
	.venv-core$*/bin/python -c 'from ansible.release import __version__ as v; print("ansible-core", v)'
	.venv-core$*/bin/python -m pytest -q -n 2 -p no:cacheprovider $(CONTROLLER_TESTS)
