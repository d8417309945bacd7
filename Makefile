# Everything installs into .venv inside the checkout, so a fresh machine needs only python3.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/ecs-agent demo

test: $(STAMP)
	$(BIN)/ruff check agents functions infra tests bench
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python bench/triage_speed.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
