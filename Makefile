# Two commands for a new user: `make run` (set up, then run the notebook series on the embedded
# simulated data) and `make test` (set up, then lint and run the tests). Both create or refresh
# the project virtual environment in .venv when it is missing or older than pyproject.toml.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint notebooks data benchmarks benchmarks-quick clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed, found " + sys.version'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/mbm-iot run

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .

data: $(STAMP)
	$(BIN)/mbm-iot data

# Re-execute the committed notebooks in place with their default parameters.
notebooks: $(STAMP)
	$(BIN)/mbm-iot notebooks

benchmarks: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

benchmarks-quick: $(STAMP)
	$(BIN)/python benchmarks/run_all.py --quick

clean:
	rm -rf $(VENV) output data/simulated data/cache
