# `make tour` sets up .venv with what the tour needs and runs the main job; `make test` adds the
# dev extras (pytest, ruff, ...), checks the code with ruff and runs the tests.
# torch is pinned here (not in pyproject) so that this machine's local CPU build is used:
# elsewhere, `make tour TORCH=torch` takes whatever build suits the machine.
PYTHON ?= python3
TORCH ?= torch==2.13.0
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
INSTALLED_DEV := $(VENV)/.installed-dev

.PHONY: setup setup-dev tour test clean

$(INSTALLED): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e .
	touch $(INSTALLED)

$(INSTALLED_DEV): $(INSTALLED)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(INSTALLED_DEV)

setup: $(INSTALLED)

setup-dev: $(INSTALLED_DEV)

tour: setup
	$(BIN)/blocklab tour

test: setup-dev
	$(BIN)/ruff check src tests
	$(BIN)/python -m pytest -n 2 --dist loadfile

clean:
	rm -rf $(VENV) build src/*.egg-info
