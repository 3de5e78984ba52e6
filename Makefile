# Two commands: `make run` (local assistant with a chat page) and `make test` (the whole suite).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test venv browsers bench clean-data

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q --upgrade pip
	$(BIN)/pip install --disable-pip-version-check -q -r requirements.txt
	touch $(STAMP)

venv: $(STAMP)

run: venv
	$(BIN)/python -m app.composition.run_local

# Page tests drive Debian's chromium + chromedriver (Playwright cannot download its browsers here).
browsers:
	@if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then \
	  echo "installing chromium and chromium-driver from Debian's packages"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
	    || echo "WARNING: could not install chromium; browser tests will fail"; \
	fi

# ruff (lint + import order) and mypy (strict on brain/, turns/, runtime/) first: pyproject.toml
test: venv browsers
	$(BIN)/ruff check app tests bench
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

# Every benchmark and chaos run, short versions (each starts and stops what it needs).
bench: venv
	$(BIN)/python bench/kb_search.py
	fail=""; for b in webhook overhead throughput chaos_retry_storm chaos_crash chaos_restart \
	    chaos_model_faults fuzz_inputs abuse security; do \
	  $(BIN)/python bench/$$b.py --quick || fail="$$fail $$b"; done; \
	if [ -n "$$fail" ]; then echo "targets missed:$$fail"; exit 1; fi

clean-data:
	rm -rf .data
