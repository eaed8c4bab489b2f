# nslab.net - the two commands of the README:
#   make lab    set everything up, build the default lab in a sandbox, print the report
#   make test   set everything up, run every test (unit, module, molecule)
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV        ?= .venv
APT_PACKAGES = iproute2 iptables nftables iputils-ping curl tcpdump util-linux procps
PY313       := $(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python3.13)
PY311       := $(firstword $(wildcard $(HOME)/.pyenv/versions/3.11*/bin/python3.11) $(shell command -v python3.11))
BASE_PYTHON ?= $(if $(PY313),$(lastword $(PY313)),$(PY311))
CORE_NEW    := ansible-core>=2.21,<2.22
CORE_OLD    := ansible-core>=2.19,<2.20
ANSIBLE_CORE ?= $(if $(PY313),$(CORE_NEW),$(CORE_OLD))
PYTHON      := $(VENV)/bin/python
COLLECTIONS := $(CURDIR)/.cache/collections
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
PYTEST_ARGS ?=
HOST        ?= lab1
SANDBOX_ROOT ?= /run/nslab-sandbox

help:
	@echo "make lab    - set up everything and build the default lab in a sandbox (the main job)"
	@echo "make test   - set up everything and run all tests"
	@echo "make teardown - remove the lab and its sandbox"
	@echo "make shell  - a shell inside the sandbox host (HOST=lab1)"

.PHONY: help setup system-packages venv collection lab teardown test unit integration molecule shell

system-packages:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

$(VENV)/.done: requirements-dev.txt Makefile
	@test -n "$(BASE_PYTHON)" || { echo "no Python 3.13 or 3.11 found (pyenv or PATH)"; exit 1; }
	@echo "virtualenv $(VENV) with $(BASE_PYTHON) and $(ANSIBLE_CORE)"
	$(BASE_PYTHON) -m venv $(VENV)
	$(PYTHON) -m pip install -q --disable-pip-version-check '$(ANSIBLE_CORE)' -r requirements-dev.txt
	touch $@

venv: $(VENV)/.done

collection:
	@mkdir -p $(COLLECTIONS)/ansible_collections/nslab
	@ln -sfn ../../../.. $(COLLECTIONS)/ansible_collections/nslab/net

setup: system-packages venv collection

lab: setup
	$(VENV)/bin/ansible-playbook playbooks/lab.yml

teardown: setup
	$(VENV)/bin/ansible-playbook playbooks/teardown.yml

unit: setup
	$(PYTHON) -m pytest -q tests/unit $(PYTEST_ARGS)

integration: setup
	$(PYTHON) -m pytest -q -n 2 tests/integration $(PYTEST_ARGS)

molecule: setup
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH MOLECULE_GLOB='molecule/*/molecule.yml' $(VENV)/bin/molecule test --all

# Everything, with this machine's own network fingerprinted before and after.
test: setup
	@mkdir -p .cache && $(PYTHON) tests/hostnet.py save .cache/hostnet-before.json
	$(PYTHON) -m pytest -q -n 2 tests/unit tests/integration $(PYTEST_ARGS)
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH MOLECULE_GLOB='molecule/*/molecule.yml' $(VENV)/bin/molecule test --all
	$(PYTHON) tests/hostnet.py check .cache/hostnet-before.json

shell:
	@test -f $(SANDBOX_ROOT)/$(HOST)/pid || { echo "no sandbox $(HOST) under $(SANDBOX_ROOT): run make lab first"; exit 1; }
	nsenter -t $$(cat $(SANDBOX_ROOT)/$(HOST)/pid) -n -m -u -p bash
