# Two commands set everything up on a fresh machine:
#   make tour   installs ndgrad and runs the main job (the tour of the notes)
#   make test   installs the test tools and runs lint + the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install tour test lint format bench bench-quick clean torchvision-ref

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

tour: $(STAMP)
	$(BIN)/ndgrad tour

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

format: $(STAMP)
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

test: lint
	# One BLAS thread per worker: two xdist workers already fill the two cores.
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python -m pytest -n 2 --dist loadfile

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run

bench-quick: $(STAMP)
	$(BIN)/python -m benchmarks.run --quick

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache .hypothesis

# Optional: torchvision 0.28's wheel, whose pure-Python transforms/utils/datasets the vision
# tests use as an extra reference (tests/vision/_reference.py); without it those tests skip.
torchvision-ref: $(STAMP)
	$(BIN)/python -m pip download --quiet torchvision==0.28.0 --no-deps -d $${NDGRAD_DATA:-$$HOME/.cache/ndgrad}/wheels
