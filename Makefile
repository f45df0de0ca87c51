# One task runner, used the same way by people and by .ci/run.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Reinstall only when the project's dependencies change: a second `make run` is quick.
INSTALLED := $(VENV)/.installed

.PHONY: install run demo test lint format bench clean

install: $(INSTALLED)

$(INSTALLED): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dev,demo]'
	@touch $@

demo: install
	$(BIN)/cairn db upgrade
	$(BIN)/python examples/sklearn_demo.py --skip-if-logged

run: demo
	$(BIN)/cairn ui

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples
	$(BIN)/mypy

format: install
	$(BIN)/ruff format src tests bench examples
	$(BIN)/ruff check --fix src tests bench examples

bench: install
	bash bench/setup_mlflow.sh
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache src/*.egg-info
