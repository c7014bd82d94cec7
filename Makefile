# Set-up and the everyday commands. Every target installs into .venv first, from the pinned
# constraints, so a fresh machine (Debian, Python 3.11, bash, make) needs nothing else.
SHELL := bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export MLFLOW_DISABLE_TELEMETRY := true
export MLFLOW_LOGGING_LEVEL := WARNING

.PHONY: setup demo test lint format lock benchmarks clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]' 2>&1 \
		| { grep -v 'is ignored' || true; }
	touch $@

setup: $(STAMP)  ## create .venv and install the project with its pinned dependencies

demo: setup  ## the main job end to end on the built-in demo data
	$(BIN)/python -m pipelines.generate
	$(BIN)/python -m pipelines.train
	$(BIN)/python -m pipelines.score
	$(BIN)/python -m pipelines.report

test: setup lint  ## lint, type-check and run the whole test suite
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

lock: setup  ## re-pin constraints.txt after changing dependencies in pyproject.toml
	{ head -n 2 constraints.txt; $(BIN)/python -m pip freeze --exclude-editable | grep -v '^churn'; } > constraints.new
	mv constraints.new constraints.txt

benchmarks: setup
	$(BIN)/python benchmarks/generate.py
	$(BIN)/python benchmarks/features.py --check
	$(BIN)/python benchmarks/train.py
	$(BIN)/python benchmarks/score.py

clean:
	rm -rf $(VENV) outputs multirun .pytest_cache .mypy_cache .ruff_cache
