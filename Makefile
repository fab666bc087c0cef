# Every target creates .venv if it is missing; nothing is assumed beyond python3.11 and make.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench docs clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/rmapwalk review --progress

# the engine-only tour of the tutorial's examples
tour: $(STAMP)
	$(BIN)/python -m rmapwalk.demo

docs: $(STAMP)
	$(BIN)/rmapwalk review --markdown > docs/review.md
	$(BIN)/rmapwalk switches --markdown > docs/switches.md

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

test: $(STAMP) lint
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py
	$(BIN)/python benchmarks/litmus.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
