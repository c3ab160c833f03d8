# `make run` and `make test` bootstrap everything they need: .venv from pyproject.toml, node_modules from package-lock.json.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
PORT ?= 3978
PLAYGROUND_PORT ?= 56150
# The whole suite runs in a loopback-only network namespace, so nothing the tests start (Agents
# Playground, Azurite, emulators) can reach beyond this machine. Non-root users get a user namespace.
# Without a desktop (no xdg-open) the Playground crashes trying to open a browser: tell it not to.
PLAYGROUND_ENV := $(shell command -v xdg-open >/dev/null 2>&1 || echo TEAMSAPPTESTER_BROWSER=none)
NETNS := $(shell [ "$$(id -u)" = 0 ] && echo "unshare -n" || echo "unshare -rn")

.PHONY: run test test-fast bench bench-scale package requirements check-infra clean doc-images

run: $(PY_STAMP) $(NODE_STAMP)
	@$(BIN)/otpbot demo
	@set -e; $(BIN)/otpbot serve --local --port $(PORT) & bot=$$!; \
	trap 'kill $$bot 2>/dev/null' EXIT INT TERM; \
	for i in $$(seq 50); do curl -fs http://127.0.0.1:$(PORT)/healthz >/dev/null && break; sleep 0.2; done; \
	echo "Open http://localhost:$(PLAYGROUND_PORT) and type: help"; \
	$(PLAYGROUND_ENV) node_modules/.bin/agentsplayground -e http://127.0.0.1:$(PORT)/api/messages -c msteams \
		-p $(PLAYGROUND_PORT) --disable-telemetry

test: $(PY_STAMP) $(NODE_STAMP)
	OTPBOT_E2E_REQUIRE_NETNS=1 $(NETNS) sh -c 'ip link set lo up && exec $(BIN)/python -m pytest -m "e2e or not e2e" $(PYTEST_ARGS)'

# The README's pictures (docs/img/): the browser test's screenshots of the main cards.
doc-images: $(PY_STAMP) $(NODE_STAMP)
	OTPBOT_DOC_IMAGES=1 OTPBOT_E2E_REQUIRE_NETNS=1 $(NETNS) sh -c 'ip link set lo up && exec $(BIN)/python -m pytest -m e2e tests/e2e/test_browser.py'

test-fast: $(PY_STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(PY_STAMP)
	$(BIN)/python -m tests.bench

# Issue 14's figures at helpdesk scale (10,000 tokens, 1M SQLite / 200k Table audit records): minutes, not in `make test`.
bench-scale: $(PY_STAMP) $(NODE_STAMP)
	$(BIN)/python -m tests.bench.scale $(BENCH_ARGS)

# The one way to build the Teams app package (m365agents.yml runs the same builder): appPackage/manifest.json
# rendered from env/.env.$(ATK_ENV), validated, zipped to appPackage/build/appPackage.$(ATK_ENV).zip.
ATK_ENV ?= dev
package: $(PY_STAMP)
	$(BIN)/otpbot package --env-file env/.env.$(ATK_ENV) --out appPackage/build/appPackage.$(ATK_ENV).zip

# requirements.txt is the deploy lock (Oryx installs it on App Service): every package pinned with its hashes,
# resolved from pyproject.toml's dependencies by pip-tools (in its own venv, away from the bot's and checkov's pins).
# Run it after any change to the dependencies; tests/test_requirements.py fails until you do.
PIP_TOOLS := .venv-lock/bin/pip-compile
requirements:
	[ -x $(PIP_TOOLS) ] || { $(PYTHON) -m venv .venv-lock && .venv-lock/bin/python -m pip install --quiet "pip-tools~=7.6"; }
	$(PIP_TOOLS) --quiet --generate-hashes --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links --newline=lf \
		--header --output-file requirements.txt pyproject.toml

$(PY_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

clean:
	rm -rf $(VENV) node_modules .otpbot-local .pytest_cache

# checkov scans the Bicep natively (no Bicep compiler is needed); it lives in its own venv so its
# dependencies never touch the bot's pins.
check-infra:
	[ -x .venv-tools/bin/checkov ] || { $(PYTHON) -m venv .venv-tools && .venv-tools/bin/python -m pip install --quiet "checkov~=3.2"; }
	@echo "checkov: default vault mode (firewall)"; .venv-tools/bin/checkov -d infra --compact --quiet --skip-download
	@echo "checkov: private vault mode (keyVaultPrivate=true)"; rm -rf build/infra-private && mkdir -p build && cp -r infra build/infra-private && \
		sed -i 's/^param keyVaultPrivate bool = false$$/param keyVaultPrivate bool = true/' build/infra-private/main.bicep && \
		grep -q '^param keyVaultPrivate bool = true$$' build/infra-private/main.bicep && \
		.venv-tools/bin/checkov -d build/infra-private --compact --quiet --skip-download
