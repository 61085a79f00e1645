# Two commands for people: `make run` and `make test` (see README.md).
# Everything else here is plumbing they call, or a tool for maintainers.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The venv is (re)installed when pyproject.toml or the lock changes: the stamp's
# name carries a checksum of both files.
DEPS_SUM := $(shell cat pyproject.toml constraints.txt 2>/dev/null | cksum | cut -d' ' -f1)
STAMP := $(VENV)/.installed-$(DEPS_SUM)
CHROMIUM := /usr/bin/chromium
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help run test install lint format lock clean screenshots

help:
	@echo "make run    start the app with demo data and a local Stripe emulator"
	@echo "make test   run the whole test suite, lint, format and import-layer checks"
	@echo "make screenshots  retake docs/screenshots/ (the README's) from the browser tests"

run: $(STAMP)
	$(BIN)/python -m coaching.embedded

# Lint and tests both run, so one failure does not hide the other; the recipe
# fails if either failed.
test: $(STAMP)
	@if [ -x $(CHROMIUM) ]; then \
		echo "Chromium: $(CHROMIUM) found: browser tests will run."; \
	else \
		echo "Chromium: $(CHROMIUM) NOT found: browser tests will be skipped" \
			"(install it with: apt-get install chromium)."; \
	fi
	@status=0; \
	echo "--- ruff check"; $(BIN)/ruff check . || status=1; \
	echo "--- ruff format --check"; $(BIN)/ruff format --check . || status=1; \
	echo "--- lint-imports (the layering: pyproject.toml)"; \
		$(BIN)/lint-imports --no-cache --no-logo || status=1; \
	echo "--- pytest"; $(BIN)/python -m pytest $(PYTEST_ARGS) || status=$$?; \
	exit $$status

# The README's screenshots (docs/screenshots/), taken by the browser journeys
# at desktop and phone widths. Only this target writes them: a plain `make
# test` leaves the working tree as it was.
screenshots: $(STAMP)
	SCREENSHOTS=1 $(BIN)/python -m pytest tests/browser -q $(PYTEST_ARGS)

install: $(STAMP)

$(STAMP):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
		echo "Python >= 3.11 is needed; '$(PYTHON)' is older." \
			"Run e.g.: make $(MAKECMDGOALS) PYTHON=python3.12"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache --no-logo

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Pin every version installed in the venv. After a change to pyproject.toml's
# dependencies this installs what is new (keeping what still fits) and pins the
# result; anything installed by hand is pinned too. `make clean lock` starts
# from an empty venv: exactly the project's dependencies, at the newest allowed
# releases. Review the diff of constraints.txt before committing.
lock:
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@{ echo "# Lock of every installed package: make lock (pip freeze). Used as"; \
	   echo "# pip install -c constraints.txt -e '.[dev]'."; \
	   $(BIN)/python -m pip freeze --exclude-editable; } > constraints.txt
	@rm -f $(VENV)/.installed-*
	@touch $(VENV)/.installed-$$(cat pyproject.toml constraints.txt | cksum | cut -d' ' -f1)
	@echo "constraints.txt: $$(grep -c '==' constraints.txt) pinned packages"

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

# Benchmarks (bench/README.md). Not part of `make test`; loopback only.
# `make bench`: issue 14's hot paths on the production shape (granian x 2, one
# Celery worker, its own PostgreSQL database and redis-server), each beside its
# baseline in the same run, interleaved (~4-6 min; needs wrk: apt-get install wrk).
# `make bench-servers`: the ASGI servers and the money core (~4 min).
# `make soak`: 10 minutes of mixed load (API, webhooks, 1,000 sockets).
BENCH_ARGS ?=
.PHONY: bench bench-servers soak
bench: $(STAMP)
	$(BIN)/python bench/hotpaths.py $(BENCH_ARGS)

bench-servers: $(STAMP)
	$(BIN)/python bench/asgi_servers.py --duration 5 --rounds 3 $(BENCH_ARGS)
	$(BIN)/python bench/pricing_and_ledger.py --repeat 7

soak: $(STAMP)
	$(BIN)/python bench/hotpaths.py --soak 600 $(BENCH_ARGS)
