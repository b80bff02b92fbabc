# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --quiet --disable-pip-version-check -c requirements/constraints.txt

.PHONY: demo test lint pytest install services browser clean

$(VENV)/.installed: requirements/*.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip 2>&1 | sed '/^WARNING: Location/d'
	$(PIP) -r requirements/dev.txt 2>&1 | sed '/^WARNING: Location/d'
	$(PY) -c "import django, celery, PIL, psycopg, playwright"  # fail here, not later, if the install did
	touch $@

install: $(VENV)/.installed

## The embedded default: SQLite and a file-system broker under var/, a real worker, on 127.0.0.1:8000.
demo: install
	scripts/demo.sh

## Lint and the whole suite, against PostgreSQL and Redis on localhost, with headless Chromium.
test: install services browser lint pytest

services:
	scripts/services.sh

browser:
	@command -v chromium >/dev/null || { \
	  echo "Installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(PY) manage.py makemigrations --check --dry-run --settings=webapp.settings.test >/dev/null
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml

pytest: install
	$(VENV)/bin/pytest

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
