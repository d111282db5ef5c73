# Common commands. `make demo` and `make test` set everything up on a fresh machine (idempotent).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
BASE_STAMP := $(HOME)/.cache/scam-analyzer/base/e5-small-zh/conversion.json

.PHONY: setup demo test base model corpus eval clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[dev,eval]"
	touch $(STAMP)

setup: $(STAMP)

base: $(STAMP)
	$(PY) -m analyzer.model.base

demo: setup
	$(PY) -m analyzer analyze examples/scam_ecommerce_refund.txt

test: setup
	$(PY) -m pytest -q

# Rebuild the corpus splits and silver set from datasets/raw and ../shared/data (test split stays frozen).
corpus: setup
	$(PY) -m analyzer.corpus.build

# Derive the base encoder, then train the shipped default model (about 30 minutes on 2 cores).
model: base
	$(PY) -m analyzer train --output models/scam-tagger-zh

clean:
	rm -rf $(VENV) build *.egg-info
