# `make demo` and `make test` each create .venv when missing and install what requirements.txt
# asks for (skipped when the stamp is newer than requirements.txt), then run.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?= -n 2

.PHONY: setup demo test test-all bench release clean

setup: $(STAMP)

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): requirements.txt | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

demo: setup
	$(PY) main.py --cfg configs/lenet_digits.yaml

test: setup
	$(PY) -m pytest -q $(PYTEST_ARGS)

test-all: setup
	$(PY) -m pytest -q -m "" $(PYTEST_ARGS)

bench: setup
	$(PY) -m bench

release: setup
	$(PY) -m autograder release --out release

clean:
	rm -rf output release .pytest_cache
