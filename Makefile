# The two commands a newcomer needs: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# The pinned requirements, then the project itself (editable: gppnmf_core importable from anywhere,
# the `gppnmf` command on the PATH of the venv; --no-deps keeps the pins).
install: $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .

install-test: $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-test.txt
	$(BIN)/pip install --quiet --no-deps -e .

run: install
	$(BIN)/python app.py

# The linter first (CI runs `make test`), then every test.
test: install-test
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

bench: install-test
	$(BIN)/python benchmarks/run_all.py

lint: install-test
	$(BIN)/ruff check .

# Fuzz every upload reader for FUZZ_SECONDS (default 180) with FUZZ_SEED (default 0); see tests/fuzz/.
fuzz: install-test
	$(BIN)/python -m tests.fuzz.fuzz_readers

.PHONY: install install-test run test bench lint fuzz
