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

.PHONY: test demo lint bench lock bootstrap clean

bootstrap: $(VENV)/.synced $(AIRFLOW_HOME)/.migrated

test: bootstrap
	$(BIN)/python -m pytest

demo: bootstrap
	$(BIN)/python scripts/demo.py

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
