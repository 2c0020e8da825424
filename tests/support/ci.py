"""Whether the tests run under CI (CI=true): there, a missing service or browser fails instead of skipping."""

from __future__ import annotations

import os

IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
