# Two commands set everything up on a fresh machine:
#   make tour   installs ndgrad (its runtime dependencies only) and runs the main job, the tour
#   make test   installs the test tools (.[dev]) and runs lint + the whole test suite
# and one for the example notebooks:
#   make notebooks   installs JupyterLab (.[notebooks]) and opens examples/
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# One stamp per install, so `make tour` never installs the test tools (PyTorch among them).
PIP_STAMP := $(VENV)/.pip
RUNTIME_STAMP := $(VENV)/.installed-runtime
DEV_STAMP := $(VENV)/.installed-dev
NOTEBOOKS_STAMP := $(VENV)/.installed-notebooks

.PHONY: install install-dev tour test test-gpu lint format bench bench-quick bench-gpu clean torchvision-ref notebooks

$(PIP_STAMP):
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	touch $(PIP_STAMP)

$(RUNTIME_STAMP): pyproject.toml | $(PIP_STAMP)
	$(BIN)/python -m pip install --quiet -e .
	touch $(RUNTIME_STAMP)

$(DEV_STAMP): pyproject.toml | $(PIP_STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	# d2l's library for tests/alias, without its pinned dependencies (see pyproject's dev extra)
	$(BIN)/python -m pip install --quiet --no-deps d2l==1.0.3
	touch $(RUNTIME_STAMP) $(DEV_STAMP)

$(NOTEBOOKS_STAMP): pyproject.toml | $(PIP_STAMP)
	$(BIN)/python -m pip install --quiet -e '.[notebooks]'
	touch $(RUNTIME_STAMP) $(NOTEBOOKS_STAMP)

install: $(RUNTIME_STAMP)

install-dev: $(DEV_STAMP)

tour: $(RUNTIME_STAMP)
	$(BIN)/ndgrad tour

# The notebooks are committed without outputs: run them here (Run > Run All Cells).
notebooks: $(NOTEBOOKS_STAMP)
	$(BIN)/jupyter lab examples/

lint: $(DEV_STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

format: $(DEV_STAMP)
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

test: lint
	# One BLAS thread per worker: two xdist workers already fill the two cores.
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python -m pytest -n 2 --dist loadfile

# On a machine with an NVIDIA GPU (after `pip install -e ".[cuda12]"`, or [cuda13] for a CUDA 13
# driver; `ndgrad doctor` says which): the device tests (tests/gpu: the op table, the d2l
# networks, optimizers, losses, the device API) on the GPU against the CPU's results, and the
# GPU benchmark (W3, W7, W9 on ndgrad+CuPy vs PyTorch CUDA; PyTorch must be a CUDA build).
# Without CuPy or a GPU the tests skip and the benchmark says why. `make test` runs the same
# tests on a fake CuPy.
test-gpu: $(DEV_STAMP)
	NDGRAD_TEST_CUDA=real $(BIN)/python -m pytest tests/gpu -rs

bench-gpu: $(DEV_STAMP)
	$(BIN)/python -m benchmarks.run --device cuda --out benchmarks/results_gpu.json

bench: $(DEV_STAMP)
	$(BIN)/python -m benchmarks.run

bench-quick: $(DEV_STAMP)
	$(BIN)/python -m benchmarks.run --quick

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache .hypothesis

# Optional: torchvision 0.28's wheel, whose pure-Python transforms/utils/datasets the vision
# tests use as an extra reference (tests/vision/_reference.py); without it those tests skip.
torchvision-ref: $(DEV_STAMP)
	$(BIN)/python -m pip download --quiet torchvision==0.28.0 --no-deps -d $${NDGRAD_DATA:-$$HOME/.cache/ndgrad}/wheels
