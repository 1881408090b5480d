# The one entry point for people and CI. Every target is safe to run again,
# and quick when there is nothing to do.
#
#   make local   set up, bring the lab up, run site.yml on it, send it a burst
#                of traffic and load it into the warehouse (the main job)
#   make test    set up, lint, unit and integration tests, the lab end to end,
#                every molecule scenario
#
# Run `make help` for the rest.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

STATE := .state
VENV := .venv
PYTHON ?= python3

export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
# Podman reads the project's own configuration (runc, explicit ulimits).
export CONTAINERS_CONF := $(CURDIR)/molecule/containers.conf
# One apt package cache shared by every container of the lab and the tests
# (mounted at /var/cache/apt/archives): each Debian package is downloaded once
# per machine, not once per container.
export CLICKSTREAM_APT_CACHE ?= /var/cache/clickstream/apt

MOLECULE_ROLES := $(patsubst roles/%/molecule/default/molecule.yml,%,$(wildcard roles/*/molecule/default/molecule.yml))
# Each suite runs in a pytest process of its own: the suites start moto
# servers and mocks in process, whose state is per process.
PYTEST_SUITES := tests/common tests/ingest tests/local_api tests/etl \
  collections/ansible_collections/clickstream/aws/tests tests/docs tests/traffic tests/shiny \
  tests/lambdas tests/etl_rerun tests/lab

.PHONY: help setup setup-host debian-packages image lab-up lab-down local traffic lint test test-setup test-python test-aws test-e2e molecule bench \
  $(addprefix molecule-,$(MOLECULE_ROLES)) clean

help: ## Show the targets
	@grep -hE '^[a-z0-9%-]+:.*## ' $(MAKEFILE_LIST) | sort | \
	  awk 'BEGIN {FS = ":.*## "} {printf "  make %-14s %s\n", $$1, $$2}'

# --- set-up -----------------------------------------------------------------

setup: setup-host image ## Install everything: Debian packages, .venv, the base image

setup-host: debian-packages $(VENV)/.stamp ## Debian packages and .venv (everything but the base image)

debian-packages: ## The Debian packages of scripts/debian-packages.txt (as root)
	@scripts/install-debian-packages.sh

$(VENV)/.stamp: requirements-dev.txt pyproject.toml | debian-packages
	@echo "Virtualenv: installing requirements-dev.txt and the project's packages (src/) into $(VENV)"
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); \
	  echo "set-up failed (virtualenv): $(PYTHON) -m venv $(VENV) failed (above)" >&2; exit 1; }
	@$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt || { \
	  echo "set-up failed (virtualenv): pip could not install requirements-dev.txt (above):" \
	    "check pip's index settings (pip config list, PIP_* variables)" >&2; exit 1; }
	@$(VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps --editable . || { \
	  echo "set-up failed (virtualenv): pip could not install the project's packages (src/) in" \
	    "editable mode (above)" >&2; exit 1; }
	@touch $@

image: debian-packages ## Build the Debian 12 base image (only when its recipe changed)
	@molecule/image/build.sh
	@mkdir -p $(CLICKSTREAM_APT_CACHE)/partial

# --- the lab ----------------------------------------------------------------

lab-up: setup ## Start the lab: moto on 127.0.0.1:5000, podman network and hosts
	ansible-playbook playbooks/lab_up.yml

lab-down: ## Stop the lab: no container, network or process of it is left
	@if [ -x $(VENV)/bin/ansible-playbook ]; then ansible-playbook playbooks/lab_down.yml; fi

# make local LAB_HISTORY_DAYS=0 loads no history.
local: lab-up ## The main job: set up, lab up, site.yml, a month of history, a burst of traffic
	ansible-playbook site.yml
	ansible-playbook playbooks/lab_history.yml $(if $(LAB_HISTORY_DAYS),-e lab_history_days=$(LAB_HISTORY_DAYS))
	ansible-playbook playbooks/lab_traffic.yml -e lab_traffic_once=true

traffic: $(VENV)/.stamp ## Another burst through the lab: events accepted, loaded, in the warehouse
	ansible-playbook playbooks/lab_traffic.yml

# --- checks -----------------------------------------------------------------

lint: $(VENV)/.stamp ## yamllint, ansible-lint (production profile), ruff
	yamllint --strict .
	ansible-lint
	ruff check --no-cache .
	ruff format --no-cache --check .

test-setup: setup ## The set-up from nothing in a fresh container of the base image
	pytest tests/setup -rA

test-python: $(VENV)/.stamp ## Python unit and integration tests (moto, a throwaway PostgreSQL), but tests/aws
	@failed=""; for suite in $(PYTEST_SUITES); do \
	  echo "== pytest $$suite"; pytest "$$suite" || failed="$$failed $$suite"; \
	done; \
	if [ -n "$$failed" ]; then echo "failed suites:$$failed" >&2; exit 1; fi

test-aws: $(VENV)/.stamp ## The AWS foundation's playbooks against a private moto server (tests/aws)
	pytest tests/aws

test-e2e: setup ## The lab from nothing to nothing: site.yml, history, traffic, every tab, again, --check, teardown
	pytest tests/e2e -rA

molecule: $(addprefix molecule-,$(MOLECULE_ROLES)) ## Every role's molecule scenario, one after another

$(addprefix molecule-,$(MOLECULE_ROLES)): molecule-%: setup
	cd roles/$* && MOLECULE_INSTANCE=molecule-$* molecule test

# The parts of make test, in stages: the set-up; then two lanes side by side,
# since each part keeps about one of the machine's two cores busy
# (ansible-playbook, pytest and moto work one process at a time); then the lab
# end to end beside the AWS foundation's playbooks. The lanes share nothing:
# the Python suites start their own moto servers and PostgreSQL on free ports
# (never the lab's), and the container parts never overlap (the fresh machine
# and molecule both write the shared apt cache, and the lab takes fixed names
# and ports).
TEST_STAGES := setup -- "lint test-python" "test-setup molecule" -- test-e2e test-aws

test: ## Everything CI runs, each part timed: set-up; lint and Python beside the fresh machine and molecule; the lab beside tests/aws
	@scripts/timed-parts.sh $(TEST_STAGES)

bench: $(VENV)/.stamp ## Benchmarks: print figures next to baselines measured in the same run
	@for bench in benchmarks/*.py; do echo "== $$bench"; python "$$bench"; done

clean: lab-down ## Take the lab down and remove build output (keeps .venv and the image)
	rm -rf build $(STATE)/facts $(STATE)/ansible-tmp
