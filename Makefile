# Two commands do everything: `make lab` (open the course) and `make test`.
# Both create the virtual environment .venv on first use.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SHARED_MNIST := ../shared/data/MNIST/raw

# nbgrader starts `alembic` as a subprocess: the venv's bin must be on PATH.
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: install system-deps lab test test-full test-fast notebooks lint format bench bench-all data mnist-cache clean html

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	touch $@

# The system packages the browser and PostgreSQL tests need (Debian/Ubuntu, as root; CI calls this):
# Chromium and an emoji font for the JupyterLab tests, PostgreSQL for the server gradebook, and
# bubblewrap, the sandbox every grading kernel runs in (grading/sandbox.py: without it, grading stops).
# Tests never install anything: without these they fail with what to do (or skip, see tests/README).
SYSTEM_PACKAGES := chromium fonts-noto-color-emoji postgresql bubblewrap
system-deps:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done | tr '\n' ' '); \
	if [ -z "$$(echo $$missing)" ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then \
	  echo "not installed: $$missing(install them as root, or set COURSE_SKIP_BROWSER=1 / COURSE_SKIP_POSTGRES=1)"; exit 0; fi; \
	echo "installing: $$missing"; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt-get install -y -q $$missing >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q $$missing >/dev/null; }

# Offline machines: take MNIST from ../shared when it is there (copy, never write into it).
# Elsewhere course_utils downloads it on first use.
data:
	@if [ -d $(SHARED_MNIST) ]; then mkdir -p data/MNIST/raw && cp -n $(SHARED_MNIST)/*.gz data/MNIST/raw/; fi

# Unpack and cache MNIST once, before parallel test workers would race to do it.
mnist-cache: $(STAMP) data
	@$(BIN)/python -c "from course_utils.data import load_mnist; load_mnist('train'); load_mnist('test')" \
	  || echo "MNIST is not prepared: the tests that need it are skipped (see data/README.md)"

# JupyterLab refuses to run as root (containers) unless told it may.
lab: $(STAMP) data
	$(BIN)/jupyter lab $$([ "$$(id -u)" = 0 ] && echo --allow-root) notebooks/

# The test suite in two tiers (tests/README.md). `make test` (the README's command, ≤ 10 min on two
# cores): every lesson's solution and blank copy run, every claim, every checker's known mistakes,
# the nbgrader round trip of every lesson, hostile submissions on a fixture assignment, feedback
# pages, the browser. `make test-full` runs what that leaves out, slow by nature: classes of 30 per
# lesson (SQLite and PostgreSQL) and the rerun/resubmission workflow. CI runs both.
# Two pytest workers; a lesson's tests share one execution of it (see tests/conftest.py).
PYTEST := $(BIN)/python -m pytest -n 2 --dist loadscope --no-loadscope-reorder --durations=30
test: $(STAMP) data mnist-cache system-deps
	$(PYTEST) -m "not full"

test-full: $(STAMP) data mnist-cache system-deps
	$(PYTEST) -m full

# Seconds: only what needs no notebook execution.
test-fast: $(STAMP) data mnist-cache
	$(PYTEST) -m "not slow and not full"

# Regenerate the student copies in notebooks/ from solutions/ (nbgrader generate_assignment).
notebooks: $(STAMP)
	$(BIN)/python tools/release.py

# Figures: lesson times, step throughput, autograde overhead, MNIST load (benchmarks/README.md).
bench: $(STAMP) data
	$(BIN)/python -m benchmarks.run

# ... and also the grading pools (the old home-made 2-worker pool against the dask LocalCluster, SQLite
# and PostgreSQL) and 1 vs 2 torch threads per lesson.
bench-all: $(STAMP) data
	$(BIN)/python -m benchmarks.run --workers --threads

# Executed HTML copies of the lessons, to read without a kernel: build/html/index.html
# (`make html LESSONS=03_gradient_descent` builds one).
html: $(STAMP) data
	$(BIN)/python tools/build_html.py $(LESSONS)

# ruff lint and format check on every Python file and notebook; mypy on the packages students and
# instructors run (pre-commit runs the same, see CONTRIBUTING.md).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy course_utils grading

# Apply ruff's formatting and safe fixes everywhere.
format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) build grading/source grading/release grading/gradebook.db
