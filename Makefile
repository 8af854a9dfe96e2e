# Two commands for a fresh machine with only python3: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PLUGIN_DIRS := $(patsubst %/pyproject.toml,%,$(wildcard plugins/*/pyproject.toml))
export COLORIZE_DATA ?= $(abspath ../shared/datasets)

.PHONY: demo test install lint bench results figures stress dist-check docs clean

install: $(STAMP)

# Re-installs only when a pyproject changes (idempotent: a second run is fast).
$(STAMP): pyproject.toml setup.py core/_kernels.c $(wildcard plugins/*/pyproject.toml)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip setuptools wheel
	$(BIN)/python -m pip install -q -e '.[train,test]' $(foreach p,$(PLUGIN_DIRS),-e $(p))
	touch $@

demo: $(STAMP)
	$(BIN)/python -m core demo

test: $(STAMP)
	$(BIN)/python -m pytest -q
	$(MAKE) --no-print-directory docs
	$(MAKE) --no-print-directory dist-check

# The documentation site, built in strict mode: a broken link fails the build.
docs: $(STAMP)
	$(BIN)/mkdocs build --strict  # not -q: it hides the warnings strict mode counts

# Builds wheels of the core and every plugin (from clean build folders: setuptools would
# put stale copies left there into the wheels), installs them (not editable) into a fresh
# venv without torch one at a time without the index, dependants first, and runs
# `colorize demo`, every sub-command's --help and every method from there
# (scripts/dist_check.py). DIST_CHECK_SEED=N installs them in a shuffled order instead.
DIST := build/dist
WHEEL_VENV := build/wheel-venv
dist-check: $(STAMP)
	rm -rf $(DIST) $(WHEEL_VENV) build/lib.* build/bdist.* $(addsuffix /build,$(PLUGIN_DIRS))
	$(BIN)/python -m pip wheel -q --no-deps --no-build-isolation -w $(DIST) . $(PLUGIN_DIRS)
	$(BIN)/python scripts/dist_check.py --dist $(DIST) --venv $(WHEEL_VENV) --python $(PYTHON) \
		$(if $(DIST_CHECK_SEED),--seed $(DIST_CHECK_SEED))

lint: $(STAMP)
	$(BIN)/ruff check core training onnx_export plugins tests

bench: $(STAMP)
	$(BIN)/colorize bench

# Regenerates docs/results.md (quality on bsds500 test + speed) and the generated section of
# docs/performance.md (colorize bench comparisons); run after models change.
results: $(STAMP)
	$(BIN)/python scripts/gen_results.py

# Regenerates docs/figures/ (concept figures and one sample sheet per method, a few
# minutes); run after models change, then `make docs`.
figures: $(STAMP)
	$(BIN)/python scripts/gen_figures.py

# Longer reliability run: fuzzing and load with larger budgets (docs/reliability.md).
# The page under load (tests/test_ui_load.py): UI_CLIENTS clients with UI_MEGAPIXELS photos
# for UI_SECONDS against a real `colorize ui --memory-mib UI_BUDGET_MIB` on 127.0.0.1.
UI_CLIENTS ?= 50
UI_SECONDS ?= 60
UI_MEGAPIXELS ?= 12
UI_BUDGET_MIB ?= 2048
stress: $(STAMP)
	COLORIZE_FUZZ_EXAMPLES=5000 COLORIZE_LOAD_CALLS=3000 \
		$(BIN)/python -m pytest -q -s tests/test_reliability.py tests/test_io.py
	COLORIZE_UI_LOAD_CLIENTS=$(UI_CLIENTS) COLORIZE_UI_LOAD_SECONDS=$(UI_SECONDS) \
		COLORIZE_UI_LOAD_MEGAPIXELS=$(UI_MEGAPIXELS) COLORIZE_UI_LOAD_BUDGET_MIB=$(UI_BUDGET_MIB) \
		$(BIN)/python -m pytest -q -s tests/test_ui_load.py

clean:
	rm -rf $(VENV) demo_output build dist *.egg-info
