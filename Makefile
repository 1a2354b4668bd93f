# The two commands of the README: `make run` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DATA_DIR ?= var

.PHONY: install run test lint typecheck bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "dexpulse needs Python 3.11 or newer")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[agent,collector,dev]'
	@touch $(STAMP)

install: $(STAMP)

run: install
	DEXPULSE_DATA_DIR=$(DATA_DIR) $(BIN)/dexpulse collector serve

test: install lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install typecheck
	$(BIN)/ruff check agent collector schema tests bench
	$(BIN)/ruff format --check agent collector schema tests bench

# mypy cannot follow the package-dir mapping, so it checks a tree of links named as installed.
typecheck: install
	@rm -rf .typecheck && mkdir -p .typecheck/dexpulse
	@for d in agent collector schema; do ln -s ../../$$d .typecheck/dexpulse/$$d; done
	cd .typecheck && ../$(BIN)/mypy --config-file ../pyproject.toml -p dexpulse.schema -p dexpulse.collector -p dexpulse.agent

bench: install
	$(BIN)/python bench/gzip_bomb.py

clean:
	rm -rf $(VENV) .typecheck .pytest_cache .mypy_cache .ruff_cache
