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

# Debian packages the project needs on the control machine: podman and the
# base image's tools; PostgreSQL 15 for the ETL and dashboard tests; R, Shiny
# and headless Chromium for the dashboard's browser test.
APT_PACKAGES := podman runc debootstrap uidmap python3-venv python3-pip curl openssl \
  postgresql postgresql-client \
  r-base-core r-cran-shiny r-cran-bslib r-cran-dbi r-cran-rpostgresql r-cran-dt \
  r-cran-ggplot2 r-cran-scales chromium chromium-driver

export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
# Podman reads the project's own configuration (runc, explicit ulimits).
export CONTAINERS_CONF := $(CURDIR)/molecule/containers.conf

MOLECULE_ROLES := $(patsubst roles/%/molecule/default/molecule.yml,%,$(wildcard roles/*/molecule/default/molecule.yml))
# Each suite runs in a pytest process of its own: the suites start moto
# servers and mocks in process, whose state is per process.
PYTEST_SUITES := lambda_src/ingest lambda_src/local_api lambda_src/etl \
  collections/ansible_collections/clickstream/aws/tests tests/docs tests/traffic tests/shiny \
  tests/lambdas tests/etl_rerun tests/aws

.PHONY: help setup image lab-up lab-down local traffic lint test test-python test-e2e molecule bench \
  $(addprefix molecule-,$(MOLECULE_ROLES)) clean

help: ## Show the targets
	@grep -hE '^[a-z%-]+:.*## ' $(MAKEFILE_LIST) | sort | \
	  awk 'BEGIN {FS = ":.*## "} {printf "  make %-14s %s\n", $$1, $$2}'

# --- set-up -----------------------------------------------------------------

setup: $(STATE)/apt.stamp $(VENV)/.stamp image ## Install everything (apt, .venv, base image)

$(STATE)/apt.stamp: Makefile
	@mkdir -p $(STATE)
	@if [ "$$(id -u)" != 0 ]; then echo "make setup installs Debian packages: run it as root" >&2; exit 1; fi
	@missing=$$(dpkg-query -W -f='$${db:Status-Status} $${Package}\n' $(APT_PACKAGES) 2>/dev/null \
	  | awk '$$1 == "installed" {print $$2}' | sort | comm -13 - <(tr ' ' '\n' <<< "$(APT_PACKAGES)" | sed '/^$$/d' | sort)); \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages: $$missing"; \
	  apt-get update -qq; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@touch $@

$(VENV)/.stamp: requirements-dev.txt $(STATE)/apt.stamp
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

image: $(STATE)/apt.stamp ## Build the Debian 12 base image (only when its recipe changed)
	@molecule/image/build.sh

# --- the lab ----------------------------------------------------------------

lab-up: setup ## Start the lab: moto on 127.0.0.1:5000, podman network and hosts
	ansible-playbook playbooks/lab_up.yml

lab-down: ## Stop the lab: no container, network or process of it is left
	@if [ -x $(VENV)/bin/ansible-playbook ]; then ansible-playbook playbooks/lab_down.yml; fi

local: lab-up ## The main job: set up, lab up, site.yml on the lab, a burst of traffic through it
	ansible-playbook site.yml
	ansible-playbook playbooks/lab_traffic.yml

traffic: $(VENV)/.stamp ## Another burst through the lab: events accepted, loaded, in the warehouse
	ansible-playbook playbooks/lab_traffic.yml

# --- checks -----------------------------------------------------------------

lint: $(VENV)/.stamp ## yamllint, ansible-lint (production profile), ruff
	yamllint --strict .
	ansible-lint
	ruff check .
	ruff format --check .

test-python: $(VENV)/.stamp ## Python unit and integration tests (moto, a throwaway PostgreSQL)
	@failed=""; for suite in $(PYTEST_SUITES); do \
	  echo "== pytest $$suite"; pytest "$$suite" || failed="$$failed $$suite"; \
	done; \
	if [ -n "$$failed" ]; then echo "failed suites:$$failed" >&2; exit 1; fi

test-e2e: setup ## The lab from nothing to nothing: site.yml twice, traffic, dashboard, --check, teardown
	pytest tests/e2e -rA

molecule: $(addprefix molecule-,$(MOLECULE_ROLES)) ## Every role's molecule scenario, one after another

$(addprefix molecule-,$(MOLECULE_ROLES)): molecule-%: setup
	cd roles/$* && MOLECULE_INSTANCE=molecule-$* molecule test

test: setup lint test-python test-e2e molecule ## Everything CI runs
	@echo "make test: lint, Python tests, the lab end to end and molecule ($(MOLECULE_ROLES)) passed"

bench: $(VENV)/.stamp ## Benchmarks: print figures next to baselines measured in the same run
	@for bench in benchmarks/*.py; do echo "== $$bench"; python "$$bench"; done

clean: lab-down ## Take the lab down and remove build output (keeps .venv and the image)
	rm -rf build $(STATE)/facts $(STATE)/ansible-tmp
