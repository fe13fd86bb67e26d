# Two commands on a fresh machine with Python 3.11+ and make: `make test` and `make demo`.
# Every target bootstraps what it needs; stamp files make a second run skip all of it.

SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9

VENV := .venv
BIN := $(VENV)/bin
TOOLS := .tools
UV := $(TOOLS)/bin/uv

# Airflow lives inside the repo (git-ignored), never in the user's ~/airflow.
export AIRFLOW_HOME := $(CURDIR)/.airflow
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export AIRFLOW__CORE__DAGS_FOLDER := $(CURDIR)/dags
export AIRFLOW__CORE__PLUGINS_FOLDER := $(CURDIR)/plugins
export PYTHONPATH := $(CURDIR)/plugins:$(CURDIR)

.PHONY: test demo up down lint bench lock bootstrap chromium clean

bootstrap: $(VENV)/.synced $(AIRFLOW_HOME)/.migrated

test: bootstrap chromium
	$(BIN)/python -m pytest

demo: bootstrap
	$(BIN)/python scripts/demo.py

# The Airflow UI on the embedded local AWS until Ctrl-C: localaws + `airflow standalone` (scripts/airflow_up.py),
# with its own Airflow home so that it never shares a database with `make test` or `make demo`.
AIRFLOW_PORT ?= 8080
LOCALAWS_PORT ?= 4566
UP_HOME ?= $(AIRFLOW_HOME)/up
up: bootstrap
	$(BIN)/python scripts/airflow_up.py up --home $(UP_HOME) --port $(AIRFLOW_PORT) --localaws-port $(LOCALAWS_PORT)

# Stops a `make up` left running elsewhere (found from $(UP_HOME)/up.json); needs only the standard library.
down:
	$(PYTHON) scripts/airflow_up.py down --home $(UP_HOME)

# Debian's Chromium for the browser test (tests/ui). Never fails the build: where it cannot be installed
# (not root, no apt-get, no network), that test skips and says why.
chromium:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "Installing Debian's chromium for the browser test (about 20 s)..."; \
		{ DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >/dev/null 2>&1 || \
		  { apt-get update -q >/dev/null 2>&1 && \
		    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >/dev/null 2>&1; }; } || \
		echo "Could not install chromium: the browser test will be skipped."; \
	else \
		echo "No /usr/bin/chromium and no root apt-get to install it: the browser test will be skipped."; \
	fi

lint: bootstrap
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: bootstrap
	@set -e; for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script; done

# Recompile the lock after editing requirements.in (needs the network).
lock: $(UV)
	$(UV) pip compile requirements.in -o requirements.txt --universal --python-version 3.11 -q

# uv, pinned, in a private venv: nothing is installed into the system Python.
$(UV):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "sales-stream needs Python 3.11+; $(PYTHON) is $$($(PYTHON) -V 2>&1). Run: make PYTHON=python3.11 ..."; exit 1; }
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install -q uv==$(UV_VERSION)

$(VENV)/.synced: requirements.txt | $(UV)
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "sales-stream needs Python 3.11+; $(PYTHON) is $$($(PYTHON) -V 2>&1). Run: make PYTHON=python3.11 ..."; exit 1; }
	@# A venv left by another Python (or a failed run) is rebuilt, not patched.
	@[ -x $(BIN)/python ] && [ "$$($(BIN)/python -V 2>&1)" = "$$($(PYTHON) -V 2>&1)" ] || \
		{ rm -rf $(VENV) && $(UV) venv -q --python $(PYTHON) $(VENV); }
	$(UV) pip sync -q --python $(BIN)/python requirements.txt
	touch $@

$(AIRFLOW_HOME)/.migrated: $(VENV)/.synced
	mkdir -p $(AIRFLOW_HOME)
	$(BIN)/airflow db migrate > $(AIRFLOW_HOME)/migrate.log 2>&1 || { cat $(AIRFLOW_HOME)/migrate.log; exit 1; }
	touch $@

clean:
	rm -rf $(VENV) $(TOOLS) $(AIRFLOW_HOME) .pytest_cache .mypy_cache .ruff_cache .hypothesis
