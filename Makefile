# `make tour` sets up .venv and runs the main job; `make test` sets up and runs the tests.
# torch is pinned here (not in pyproject) so that this machine's local CPU build is used:
# elsewhere, `make tour TORCH=torch` takes whatever build suits the machine.
PYTHON ?= python3
TORCH ?= torch==2.13.0
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup tour test clean

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

tour: setup
	$(BIN)/blocklab tour

test: setup
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) build src/*.egg-info
