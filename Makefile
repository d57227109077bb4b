# The two commands of the README's quick start. Each bootstraps a pinned uv into .tools/,
# installs the locked dependencies into .venv/, and is safe to run again.
UV_VERSION := 0.13.9
PYTHON ?= python3
UV := .tools/bin/uv
HOME_DIR ?= .cyberwell
# logscan (./logscan, Rust) is built by uv sync with the machine's cargo (rustup's, by default here).
export PATH := $(HOME)/.cargo/bin:$(PATH)
LOGSCAN_SOURCES := logscan/pyproject.toml logscan/Cargo.toml logscan/Cargo.lock $(wildcard logscan/src/*.rs logscan/python/logscan/*)

.PHONY: demo test chromium

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

.venv/.synced: $(UV) pyproject.toml uv.lock Makefile $(LOGSCAN_SOURCES)
	@command -v cargo >/dev/null || { echo "cargo not found: logscan needs a Rust toolchain (rustup.rs)" >&2; exit 1; }
	$(UV) sync --locked --quiet --compile-bytecode
	touch $@

demo: .venv/.synced
	$(UV) run --locked --no-sync cyberwell --home $(HOME_DIR) demo $(ARGS)

# tests/reports/test_report_chromium.py renders the HTML report in Debian's headless Chromium and fails
# (never skips) without it: installed here when missing (as root, or with sudo).
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi; \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
	fi

# Lint, format and types first: a minute that saves reading a failing suite.
test: .venv/.synced chromium
	$(UV) run --locked --no-sync ruff check .
	$(UV) run --locked --no-sync ruff format --check .
	$(UV) run --locked --no-sync mypy
	$(UV) run --locked --no-sync pytest -n 2 --dist loadfile $(ARGS)
