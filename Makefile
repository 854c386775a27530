# The two commands a newcomer types: `make demo` (set up, build and run the example guest)
# and `make test` (start the services the tests need, then run them).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup demo test lint bench clean

# everything a developer needs (what running needs, plus the test and bench tools)
setup: $(VENV)/.installed-dev

# what running needs: the four distributions and componentize-py (requirements.txt)
$(VENV)/.installed-run: requirements.txt core/pyproject.toml $(wildcard plugins/*/pyproject.toml)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed-run requirements-dev.txt
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	touch $@

demo: $(VENV)/.installed-run
	$(BIN)/python examples/build.py hello_cache
	$(BIN)/wasmcache run examples/build/hello_cache.wasm

test: setup
	scripts/ensure-services
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) examples/build .wasmcache

bench: setup
	$(BIN)/python -m bench
