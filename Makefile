# Two commands do everything: `make lab` (open the course) and `make test`.
# Both create the virtual environment .venv on first use.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SHARED_MNIST := ../shared/data/MNIST/raw

# nbgrader starts `alembic` as a subprocess: the venv's bin must be on PATH.
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: install lab test test-fast notebooks lint bench data clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	touch $@

# Offline machines: take MNIST from ../shared when it is there (copy, never write into it).
# Elsewhere course_utils downloads it on first use.
data:
	@if [ -d $(SHARED_MNIST) ]; then mkdir -p data/MNIST/raw && cp -n $(SHARED_MNIST)/*.gz data/MNIST/raw/; fi

lab: $(STAMP) data
	$(BIN)/jupyter lab notebooks/

test: $(STAMP) data
	$(BIN)/python -m pytest

test-fast: $(STAMP) data
	$(BIN)/python -m pytest -m "not slow"

# Regenerate the student copies in notebooks/ from solutions/ (nbgrader generate_assignment).
notebooks: $(STAMP)
	$(BIN)/python tools/release.py

# Figures: lesson times, step throughput, autograde overhead, MNIST load (benchmarks/README.md).
bench: $(STAMP) data
	$(BIN)/python benchmarks/run.py

lint: $(STAMP)
	$(BIN)/ruff check course_utils tools tests

clean:
	rm -rf $(VENV) build grading/source grading/release grading/gradebook.db
