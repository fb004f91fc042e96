# The two commands that do everything on a fresh machine: `make demo` and `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
# The BigQuery emulator pins a newer sqlglot than SQLMesh allows, so it lives in its own
# environment; it is a server the tests start, never imported.
BQ_VENV ?= .venv-bqemulator

.PHONY: demo test lint bench env clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

# bqemulator 1.4.0 downloads DuckDB's spatial extension at start (no network here: it comes
# from the extension wheel) and imports numpy without declaring it.
$(BQ_VENV)/.installed:
	$(PYTHON) -m venv $(BQ_VENV)
	$(BQ_VENV)/bin/python -m pip install --quiet bqemulator==1.4.0 duckdb==1.5.5 \
		duckdb-extension-spatial==1.5.5 duckdb-extension-avro==1.5.5 numpy==2.4.6
	touch $@

env: $(BIN)/.installed  ## create the virtual environment

demo: $(BIN)/.installed  ## run the whole lakehouse end to end on the embedded defaults
	$(BIN)/commonlake demo

test: $(BIN)/.installed $(BQ_VENV)/.installed  ## run the tests (real servers, real clients)
	$(BIN)/python -m pytest

lint: $(BIN)/.installed
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: $(BIN)/.installed  ## run every benchmark and print figures
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf .commonlake
