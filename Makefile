# kubelab: `make up` runs a cluster on this machine, `make test` runs every test.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Two installs, two stamps: `make up` needs only the runtime; the test tools (pytest,
# mypy, the kubernetes client, ...) come with the first `make test`, `make lint` or
# `make bench`. pip itself is not upgraded: the venv's own pip installs these wheels.
RUNTIME_STAMP := $(VENV)/.installed-runtime
TEST_STAMP := $(VENV)/.installed-test
ARGS ?=

.PHONY: up install test bench lint chaos clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

$(RUNTIME_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

# '.[test]' is the runtime plus the test extra, so it brings the runtime stamp up to date too.
$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	touch $(RUNTIME_STAMP) $@

install: $(RUNTIME_STAMP)

up: $(RUNTIME_STAMP)
	$(BIN)/kubelab up $(ARGS)

test: $(TEST_STAMP)
	$(BIN)/python -m tests.lanes $(ARGS)  # two lanes at once (tests/lanes.py says why)

# The fast tiers only: unit tests and the in-process apiserver tests (about 20 s here).
.PHONY: test-fast
test-fast: $(TEST_STAMP)
	$(BIN)/pytest -q -m "unit or inprocess" $(ARGS)

bench: $(TEST_STAMP)
	$(BIN)/python -m tests.bench.run $(ARGS)

chaos: $(TEST_STAMP)
	$(BIN)/pytest -q tests/chaos --chaos-seconds=$${SECONDS_TO_RUN:-600} $(ARGS)

lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy api client apiserver scheduler kubelet controllers kubectl kubelab autoscaler dashboard
	$(BIN)/lint-imports  # the layer contracts of pyproject.toml [tool.importlinter]
	$(BIN)/python tools/gen_sync_client.py --check  # client/sync.py is generated from client/aio.py

clean:
	rm -rf $(VENV) .cache build *.egg-info
