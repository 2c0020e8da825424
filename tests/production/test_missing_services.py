"""Without PostgreSQL or Redis the production tests skip on a developer machine and fail under CI=true."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_migration_tests(**env) -> subprocess.CompletedProcess:
    """Run test_migrations.py in a child pytest with PostgreSQL pointed at a closed port."""
    return subprocess.run(
        # One process (-n 0): three tests that skip or fail at once need no xdist workers starting up.
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-n",
            "0",
            "-rs",
            "tests/production/test_migrations.py",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TEST_POSTGRES_ADMIN_URL": "postgresql://postgres@127.0.0.1:1/postgres", **env},
    )


def test_missing_postgresql_skips_locally_and_fails_under_ci():
    local = run_migration_tests(CI="")
    # Every test of the file skipped, none passed or failed (the summary is only "N skipped in ...").
    assert local.returncode == 0 and re.search(r"^\d+ skipped in ", local.stdout, re.M), local.stdout[-2000:]
    assert "PostgreSQL is not reachable" in local.stdout

    ci = run_migration_tests(CI="true")
    assert ci.returncode != 0, ci.stdout[-2000:]
    assert "CI=true: production-mode tests must run" in ci.stdout
