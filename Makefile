# The two commands of the README: `make run` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DATA_DIR ?= var

.PHONY: install run demo test lint typecheck bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "dexpulse needs Python 3.11 or newer")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[agent,collector,dev]'
	@touch $(STAMP)

install: $(STAMP)

# The collector on SQLite under $(DATA_DIR), and an agent on this machine enrolled against it
# (its config and state under $(DATA_DIR)/agent*); Ctrl-C stops both.
run: install
	@set -e; export DEXPULSE_DATA_DIR="$(DATA_DIR)"; port=$${DEXPULSE_PORT:-8470}; \
	mkdir -p "$(DATA_DIR)"; \
	if [ ! -f "$(DATA_DIR)/agent.toml" ]; then \
	  $(BIN)/dexpulse collector migrate; \
	  secret=$$($(BIN)/dexpulse collector enrollment-secret create --name "this machine"); \
	  printf '# Written by make run: the local agent.\ncollector_url = "http://127.0.0.1:%s"\nenrollment_secret = "%s"\nstate_dir = "%s/agent"\n\n[tags]\nsite = "local"\n\n[upload]\ninterval_s = 15.0\n' \
	    "$$port" "$$secret" "$$(cd "$(DATA_DIR)" && pwd)" > "$(DATA_DIR)/agent.toml"; \
	fi; \
	$(BIN)/dexpulse collector serve & collector=$$!; \
	trap 'kill $$collector $$agent 2>/dev/null; wait' INT TERM EXIT; \
	until $(BIN)/python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$$port/healthz', timeout=1)" 2>/dev/null; do \
	  kill -0 $$collector 2>/dev/null || exit 1; sleep 0.3; done; \
	$(BIN)/dexpulse agent --config "$(DATA_DIR)/agent.toml" run & agent=$$!; \
	echo "dexpulse is running: collector at http://127.0.0.1:$$port/ (API docs at /docs), agent pid $$agent"; \
	wait $$collector

# A collector on a fresh SQLite database under $(DEMO_DIR) and a simulated fleet of 300 laptops
# posting to it in real time; DNS fails at one site 4 minutes in, and the outage feed is
# printed here as it happens (usually 3 to 5 minutes later). Ctrl-C stops everything.
DEMO_DIR ?= var/demo
demo: install
	@set -e; rm -rf "$(DEMO_DIR)"; mkdir -p "$(DEMO_DIR)"; \
	export DEXPULSE_DATA_DIR="$(DEMO_DIR)"; port=$${DEXPULSE_PORT:-8471}; export DEXPULSE_PORT=$$port; \
	$(BIN)/dexpulse collector migrate 2>/dev/null; \
	secret=$$($(BIN)/dexpulse collector enrollment-secret create --name demo 2>/dev/null); \
	key=$$($(BIN)/dexpulse collector api-key create --name demo --role viewer 2>/dev/null); \
	$(BIN)/dexpulse collector serve > "$(DEMO_DIR)/collector.log" 2>&1 & collector=$$!; \
	trap 'kill $$collector $$fleet 2>/dev/null; wait' INT TERM EXIT; \
	until $(BIN)/python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$$port/healthz', timeout=1)" 2>/dev/null; do \
	  kill -0 $$collector 2>/dev/null || { cat "$(DEMO_DIR)/collector.log"; exit 1; }; sleep 0.3; done; \
	$(BIN)/dexpulse simulate --devices 300 --sites 4 --duration 2h --speed 1 --always-on \
	  --scenario site_dns_failure:at=4m,duration=20m \
	  --post "http://127.0.0.1:$$port" --enrollment-secret "$$secret" > "$(DEMO_DIR)/fleet.log" 2>&1 & fleet=$$!; \
	echo "dexpulse demo: collector at http://127.0.0.1:$$port/ (API docs at /docs), 300 simulated laptops posting;"; \
	echo "DNS fails at one site 4 minutes in. Viewer API key: $$key"; \
	$(BIN)/dexpulse collector watch --url "http://127.0.0.1:$$port" --api-key "$$key"

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
	@# The agent again as on Windows and macOS, where its sys.platform branches take the other way.
	cd .typecheck && ../$(BIN)/mypy --config-file ../pyproject.toml --platform win32 -p dexpulse.agent
	cd .typecheck && ../$(BIN)/mypy --config-file ../pyproject.toml --platform darwin -p dexpulse.agent

bench: install
	$(BIN)/python bench/gzip_bomb.py
	$(BIN)/python bench/agent_footprint.py

clean:
	rm -rf $(VENV) .typecheck .pytest_cache .mypy_cache .ruff_cache
