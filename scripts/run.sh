#!/usr/bin/env bash
# One command: set up (virtualenv, install, migrate) and start the server on http://localhost:5000.
#   bash scripts/run.sh [--host H] [--port P] [...]      arguments go to deepfake-server (--help lists them)
#   bash scripts/run.sh download-models [--model KEY]    fetch the detection models instead
set -euo pipefail
source "$(dirname "$0")/_venv.sh"
if [ "${1:-}" = "download-models" ]; then
    shift
    exec deepfake download-models "$@"
fi
exec deepfake-server "$@"
