# kubelab: `make up` runs a cluster on this machine, `make test` runs every test.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ARGS ?=

.PHONY: up test bench lint chaos clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

up: $(STAMP)
	$(BIN)/kubelab up $(ARGS)

test: $(STAMP)
	$(BIN)/pytest -q -ra $(ARGS)

bench: $(STAMP)
	$(BIN)/python -m tests.bench.run $(ARGS)

chaos: $(STAMP)
	$(BIN)/pytest -q tests/chaos --chaos-seconds=$${SECONDS_TO_RUN:-600} $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy api client apiserver scheduler kubelet controllers kubectl kubelab

clean:
	rm -rf $(VENV) .cache build *.egg-info
