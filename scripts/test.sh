#!/usr/bin/env bash
# One command: set up and run every test (engine, API, browser, production mode).
set -euo pipefail
venv_extras=test
source "$(dirname "$0")/_venv.sh"
# Browser tests drive Debian's Chromium; Playwright cannot download its own browser here.
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
# Lint and format check first (rules in pyproject.toml [tool.ruff]): a finding fails the run before any test.
python -m ruff check src tests bench
python -m ruff format --check src tests bench
# Type check (strict on the engine and the services; files and settings in pyproject.toml [tool.mypy]).
python -m mypy
exec python -m pytest "$@"
