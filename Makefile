# One way to check work: `make lint test` (and `make validate build` for the template).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam
VALIDATE_VENV := .venv-validate

.PHONY: help install compile run test unit integration e2e lint format validate build bench clean

help:
	@echo "make run        start the whole pipeline locally (moto + sandbox affiliate API)"
	@echo "make test       unit, integration and end-to-end tests"
	@echo "make lint       ruff (lint + format check) and mypy"
	@echo "make validate   sam validate --lint, then cfn-lint and checkov on the SAM-transformed template"
	@echo "make build      sam build (needs python3.13; found via pyenv if not on PATH)"
	@echo "make bench      cold start, hot path and forwarder throughput figures"

# setuptools' "editable installation" notice concerns layouts unlike ours: silenced, not an error.
$(VENV)/.installed: requirements-dev.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.lock
	PYTHONWARNINGS="ignore:::setuptools.command.editable_wheel" $(PY) -m pip install --quiet --no-deps -e .
	touch $@

install: $(VENV)/.installed

# Bytecode for our own sources, as pip compiles what it installs (boto3, Powertools):
# otherwise, where PYTHONDONTWRITEBYTECODE is set, every start of `make run` and every
# cold start `make bench` measures compiles the package from source first. Up to date
# in a fraction of a second.
compile: install
	$(PY) -m compileall -q -j0 layers/common functions devtools

$(SAM_VENV)/.installed: requirements-sam.lock
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet -r requirements-sam.lock
	touch $@

run: compile
	$(PY) -m affiliate_bridge_dev.local_stack

test: install
	$(PY) -m pytest

unit: install
	$(PY) -m pytest tests/unit

integration: install
	$(PY) -m pytest tests/integration

e2e: install
	$(PY) -m pytest tests/e2e

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

$(VALIDATE_VENV)/.installed: requirements-validate.lock
	$(PYTHON) -m venv $(VALIDATE_VENV)
	$(VALIDATE_VENV)/bin/pip install --quiet -r requirements-validate.lock
	touch $@

# The template as SAM validates it, then as CloudFormation will deploy it (the SAM transform
# expanded locally): cfn-lint and checkov must find nothing unexplained. Every checkov
# suppression sits on its resource in template.yaml with a one-line justification.
validate: $(SAM_VENV)/.installed $(VALIDATE_VENV)/.installed
	SAM_CLI_TELEMETRY=0 $(SAM) validate --lint --region us-east-1
	$(SAM_VENV)/bin/python scripts/transform-template template.yaml .aws-sam/transformed-template.json
	$(VALIDATE_VENV)/bin/cfn-lint template.yaml .aws-sam/transformed-template.json
	$(VALIDATE_VENV)/bin/checkov --quiet --compact --skip-download --framework cloudformation \
		-f .aws-sam/transformed-template.json

build: $(SAM_VENV)/.installed
	PATH="$$(scripts/find-python 3.13):$$PATH" SAM_CLI_TELEMETRY=0 $(SAM) build --region us-east-1
	"$$(scripts/find-python 3.13)/python3.13" scripts/compile-build .aws-sam/build

bench: compile
	$(PY) -m affiliate_bridge_dev.bench

clean:
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache .hypothesis
