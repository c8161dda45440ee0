# The two README commands. Both (re)create .venv when pyproject.toml is newer than it.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: train test lint eval track bench setup clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --upgrade "pip>=23" -q
	# --no-compile: Python compiles the modules it imports on first use; byte-compiling all of torch and the
	# rest up front took ~40 of the ~90 s of the set-up (measured on a fresh clone), and every run imports the same
	$(PY) -m pip install --no-compile -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

train: $(STAMP)
	$(PY) train.py $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

test: lint
	$(PY) -m pytest -n 2 --dist loadgroup $(ARGS)

eval: $(STAMP)
	$(PY) eval.py $(ARGS)

track: $(STAMP)
	$(PY) track.py $(ARGS)

bench: $(STAMP)
	$(PY) scripts/benchmark_training.py
	$(PY) scripts/benchmark_tracking.py

clean:
	rm -rf $(VENV) logs outputs multirun
