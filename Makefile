# Two commands on a fresh machine (Python 3.11+ and make): `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --quiet --disable-pip-version-check

.DEFAULT_GOAL := help
.PHONY: help run test test-fast bench profile bench-servers bench-migration token migrate lint format lock client clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(VENV)/.runtime: requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PIP) install --require-hashes -r requirements.lock
	@touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.lock
	@$(PIP) install --require-hashes -r requirements-dev.lock
	@touch $@

# The real Better Auth (npm) that the auth tests get tokens from; skipped where npm is missing.
BETTER_AUTH := tests/support/better_auth_server/node_modules/.package-lock.json
$(BETTER_AUTH): tests/support/better_auth_server/package-lock.json
	@if command -v npm >/dev/null; then \
		cd tests/support/better_auth_server && npm ci --silent --no-audit --no-fund; \
	else echo "npm not found: the Better Auth tests will be skipped"; fi

# The TypeScript client's pinned tools (openapi-typescript, openapi-fetch, tsc); skipped where npm is missing.
TS_CLIENT := clients/typescript/node_modules/.package-lock.json
$(TS_CLIENT): clients/typescript/package-lock.json
	@if command -v npm >/dev/null; then \
		cd clients/typescript && npm ci --silent --no-audit --no-fund; \
	else echo "npm not found: the TypeScript client tests will be skipped"; fi

run: $(VENV)/.runtime  ## Start the API on HOST:PORT (embedded PostgreSQL unless NEON_DATABASE_URL is set)
	@$(PY) scripts/init_env.py
	$(PY) -m todo_api

test: $(VENV)/.dev $(BETTER_AUTH) $(TS_CLIENT)  ## Run the whole test suite (TEST_DATABASE_URL, or an embedded PostgreSQL)
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: $(VENV)/.dev  ## The quick loop: unit and api tiers, the app in-process (no servers, browsers or containers)
	$(PY) -m pytest tests/unit tests/api $(PYTEST_ARGS)

bench: $(VENV)/.dev  ## Load-test the service with wrk; writes bench/results/ latest.md, mcp.md, scheduler.md, streams.md (~17 min)
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -qq wrk >/dev/null; } \
		|| { echo "bench needs wrk (Debian: apt-get install wrk)"; exit 1; }
	$(PY) bench/run.py
	$(PY) bench/mcp_cost.py
	$(PY) bench/scheduler.py
	$(PY) bench/streams.py

profile: $(VENV)/.dev  ## Where a request's CPU goes: py-spy on the steady mix; writes bench/results/profile.md (~2 min)
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -qq wrk >/dev/null; } \
		|| { echo "profile needs wrk (Debian: apt-get install wrk)"; exit 1; }
	$(PY) bench/profile.py

bench-servers: $(VENV)/.dev  ## The service under uvicorn and under granian, side by side; writes bench/results/servers.md (~5 min)
	$(PY) bench/servers.py

bench-migration: $(VENV)/.dev  ## Time migration 0004 and its re-rendering on 1 000 000 tasks (~5 min)
	$(PY) bench/migration.py

token: $(VENV)/.runtime  ## Print a dev token: make token USER=user123 [MINUTES=60]
	@$(PY) -m todo_api.cli.token "$(USER)" $(MINUTES)

migrate: $(VENV)/.runtime  ## Apply database migrations
	$(PY) -m todo_api.cli.migrate

client: $(VENV)/.runtime $(TS_CLIENT)  ## Regenerate clients/typescript/ (openapi.json, schema.d.ts) from the app
	@command -v npm >/dev/null || { echo "make client needs npm (Node.js)"; exit 1; }
	$(PY) -m todo_api.cli.openapi > clients/typescript/openapi.json.tmp
	mv clients/typescript/openapi.json.tmp clients/typescript/openapi.json
	cd clients/typescript && npm run --silent generate

lint: $(VENV)/.dev  ## ruff and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(VENV)/.dev  ## Format the code
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

lock:  ## Re-pin requirements*.lock from requirements*.in (needs pip-tools)
	pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe -o requirements.lock requirements.in
	pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe -o requirements-dev.lock requirements-dev.in

clean:  ## Remove the virtualenv and caches (keeps .data/ and .env)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
