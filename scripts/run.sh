#!/usr/bin/env bash
# One command: set up (virtualenv, install, migrate) and start the server on http://localhost:5000.
set -euo pipefail
source "$(dirname "$0")/_venv.sh"
exec deepfake-server "$@"
