# The README's two commands are `make run` and `make test`; both set everything up first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint bench bench-quick fuzz clean

install: $(STAMP)

$(STAMP): pyproject.toml tests/clients/package-lock.json
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	# The JavaScript client the tests drive (@gitbeaker/rest), pinned by its lock file.
	npm ci --prefix tests/clients --no-audit --no-fund --loglevel=error
	touch $(STAMP)

run: install
	$(BIN)/artifactsvc serve

# One pytest worker per core; a module stays on one worker (--dist loadfile), so a module's
# servers and seeded stores are built once. TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= auto
test: install
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check artifactsvc tests bench
	$(BIN)/ruff format --check artifactsvc tests bench
	$(BIN)/mypy

# The long fuzz runs (make test runs each for a bounded number of examples): schemathesis
# against /openapi.json of a real server, then atheris over the zip reader, whose corpus and
# any crash-* inputs it finds stay in $(FUZZ_DIR).
FUZZ_EXAMPLES ?= 200
FUZZ_SECONDS ?= 600
FUZZ_DIR ?= var/fuzz
fuzz: install
	$(BIN)/python -m tests.fuzz.api --examples $(FUZZ_EXAMPLES)
	mkdir -p $(FUZZ_DIR)
	$(BIN)/python -m tests.fuzz.zips $(FUZZ_DIR)/zips -max_total_time=$(FUZZ_SECONDS) -artifact_prefix=$(FUZZ_DIR)/

bench: install
	$(BIN)/python -m bench

bench-quick: install
	$(BIN)/python -m bench --quick

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache
