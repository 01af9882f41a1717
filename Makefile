# `make run` and `make test` do every set-up step on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CLIENT := clients/python
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml $(CLIENT)/pyproject.toml | sha1sum | cut -c1-12)

.PHONY: install run test lint typecheck bench clean

# The client (its own distribution, herald-client) goes into the dev venv so the suite tests it.
$(STAMP): pyproject.toml $(CLIENT)/pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '$(CLIENT)[mcp]'
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

## Everything on embedded defaults: Temporal dev server, emulator, worker, API, demo data.
run: install
	$(BIN)/herald migrate
	$(BIN)/herald dev

## Lint, types, then the whole suite (SQLite and Postgres, real Temporal, emulator).
test: install lint typecheck
	$(BIN)/pytest -n 3 --durations=15; status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi; exit $$status

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy herald api workflows activities platforms emulator worker.py
	$(BIN)/mypy $(CLIENT)/src/herald_client

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .herald .pytest_cache .mypy_cache .ruff_cache
