# Shared by run.sh and test.sh: create .venv and install the project (and extras) when pyproject.toml changed.
# Sourced, so "$@" here is the caller's arguments (for the server or pytest): the pip extras come from
# the variable venv_extras instead (e.g. `venv_extras=test; source _venv.sh`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
extras="${venv_extras:-}"
python_bin="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$python_bin" -m venv .venv
fi
# shellcheck disable=SC1091
. .venv/bin/activate
stamp=".venv/.installed${extras:+-$extras}"
wanted="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
    python -m pip install --quiet --upgrade pip
    # torch is pinned first on its own: an unpinned resolve would pull the CUDA build.
    python -m pip install --quiet "torch==2.13.0"
    python -m pip install --quiet -e ".${extras:+[$extras]}"
    echo "$wanted" > "$stamp"
fi
