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
# (its config and state under $(DATA_DIR)/agent*); the first run also makes a console admin
# whose password it keeps in $(DATA_DIR)/console-admin-password (0600). Ctrl-C stops both.
run: install
	@set -e; export DEXPULSE_DATA_DIR="$(DATA_DIR)"; port=$${DEXPULSE_PORT:-8470}; \
	mkdir -p "$(DATA_DIR)"; \
	$(BIN)/dexpulse collector migrate; \
	if [ ! -f "$(DATA_DIR)/console-admin-password" ]; then \
	  pw=$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(12))'); \
	  if printf '%s\n' "$$pw" | $(BIN)/dexpulse collector user create admin --admin --password-stdin >/dev/null 2>&1; \
	  then (umask 077; printf '%s\n' "$$pw" > "$(DATA_DIR)/console-admin-password"); \
	  else echo "console user admin exists already (dexpulse collector user password admin)"; fi; \
	fi; \
	if [ ! -f "$(DATA_DIR)/agent.toml" ]; then \
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
	echo "console: http://127.0.0.1:$$port/console/ (user admin, password in $(DATA_DIR)/console-admin-password)"; \
	wait $$collector

# The console's story in the browser. A collector on a fresh SQLite database under $(DEMO_DIR)
# holding a month of history for 500 laptops (the fleet page's trend), and a simulated fleet of
# 300 laptops posting to it in real time; DNS fails at one site 4 minutes in. Open the printed
# URL and sign in as demo: the outage appears in the feed (usually 3 to 5 minutes later)
# without a reload; click it for its explanation. The feed is also printed here. Ctrl-C stops.
DEMO_DIR ?= var/demo
DEMO_PASSWORD ?= dexpulse-demo-password
demo: install
	@set -e; rm -rf "$(DEMO_DIR)"; mkdir -p "$(DEMO_DIR)"; \
	export DEXPULSE_DATA_DIR="$(DEMO_DIR)"; port=$${DEXPULSE_PORT:-8471}; export DEXPULSE_PORT=$$port; \
	echo "dexpulse demo: writing a month of history for 500 laptops..."; \
	$(BIN)/python bench/console_data.py --database-url "sqlite:///$$(cd "$(DEMO_DIR)" && pwd)/collector.db" \
	  --devices 500 --days 30 --sample-devices 5 --outages 12 --open-outages 0 > "$(DEMO_DIR)/history.log"; \
	printf '%s\n' "$(DEMO_PASSWORD)" | $(BIN)/dexpulse collector user create demo --admin --password-stdin >/dev/null; \
	secret=$$($(BIN)/dexpulse collector enrollment-secret create --name demo 2>/dev/null); \
	key=$$($(BIN)/dexpulse collector api-key create --name demo --role viewer 2>/dev/null); \
	$(BIN)/dexpulse collector serve > "$(DEMO_DIR)/collector.log" 2>&1 & collector=$$!; \
	trap 'kill $$collector $$fleet 2>/dev/null; wait' INT TERM EXIT; \
	until $(BIN)/python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$$port/healthz', timeout=1)" 2>/dev/null; do \
	  kill -0 $$collector 2>/dev/null || { cat "$(DEMO_DIR)/collector.log"; exit 1; }; sleep 0.3; done; \
	$(BIN)/dexpulse simulate --devices 300 --sites 4 --duration 2h --speed 1 --always-on \
	  --scenario site_dns_failure:at=4m,duration=20m \
	  --post "http://127.0.0.1:$$port" --enrollment-secret "$$secret" > "$(DEMO_DIR)/fleet.log" 2>&1 & fleet=$$!; \
	echo "dexpulse demo: open http://127.0.0.1:$$port/console/ and sign in as demo / $(DEMO_PASSWORD)"; \
	echo "300 simulated laptops are posting; DNS fails at one site 4 minutes in. Viewer API key: $$key"; \
	if [ -n "$${DISPLAY:-}$${WAYLAND_DISPLAY:-}" ] && command -v xdg-open >/dev/null; then \
	  xdg-open "http://127.0.0.1:$$port/console/" >/dev/null 2>&1 || true; fi; \
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
