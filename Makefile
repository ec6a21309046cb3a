# The same commands everywhere: `make test` locally is what CI runs; `make demo` is what a newcomer runs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
UV_VERSION := 0.13.9
export UV_PROJECT_ENVIRONMENT := $(abspath $(VENV))
export UV_LINK_MODE := copy

.PHONY: system-deps install demo test lint typecheck contracts pytest bench eval clean-env lock

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(BIN)/uv: | $(BIN)/python
	$(BIN)/python -m pip install -q "uv==$(UV_VERSION)"

# --inexact keeps uv itself in the environment it manages. Bytecode is compiled at install (the packages and
# fairtel's own sources): where PYTHONDONTWRITEBYTECODE is set, as in many container images, every command and
# every worker process would otherwise compile its imports again (`fairtel --help`: 2.5 s against 1.0 s).
$(VENV)/.synced: pyproject.toml uv.lock | $(BIN)/uv
	$(BIN)/uv sync --frozen --inexact --all-extras --compile-bytecode
	$(BIN)/python -m compileall -q src >/dev/null
	touch $@

# The built-in intent model, ready-made at install (docs/assistant.md "First use"): the assistant's first answer on
# a new home takes seconds, not minutes of training; a stale file (examples, settings or libraries changed) is
# ignored at run time and the model trained as before.
BUILTIN_INTENTS := src/fairtel/care/data/builtin-intents.joblib
$(BUILTIN_INTENTS): $(VENV)/.synced src/fairtel/care/_intent_model.py src/fairtel/care/_intent_text.py src/fairtel/care/data/telecom_intents_train.jsonl
	$(BIN)/python -c "from fairtel.care._intent_model import build_builtin_model; build_builtin_model()"
	touch $@

install: $(VENV)/.synced $(BUILTIN_INTENTS)

# Debian packages the tests need: chromium for the console's browser tests and a CJK font so that the
# Chinese console renders (screenshots). Installed when missing and we may (root or sudo); otherwise the
# browser tests report as skipped with the reason.
system-deps:
	@if { [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi "noto.*cjk"; } && command -v apt-get >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null; then SUDO=sudo; else SUDO=none; fi; \
	  if [ "$$SUDO" != none ]; then \
	    echo "installing Debian chromium and fonts-noto-cjk for the browser tests"; \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; \
	  else echo "chromium missing and no root: browser tests will be skipped"; fi; \
	fi

demo: install
	$(BIN)/fairtel demo

lint: install
	$(BIN)/ruff check src tests bench

typecheck: install
	$(BIN)/mypy

contracts: install
	$(BIN)/lint-imports

pytest: install system-deps
	$(BIN)/python -m pytest -q

test: lint typecheck contracts pytest

bench: install
	$(BIN)/python bench/run_all.py

eval: install
	$(BIN)/python bench/run_all.py --eval

lock: | $(BIN)/uv
	$(BIN)/uv lock

clean-env:
	rm -rf $(VENV)
