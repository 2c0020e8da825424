"""The README's configuration tables are the declared settings, rendered: they never drift."""

from __future__ import annotations

from pathlib import Path

from deepfake_detection.settings import README_TABLES, render_readme

README = Path(__file__).resolve().parents[1] / "README.md"
REWRITE = "python -m deepfake_detection.settings --write-readme README.md"


def test_readme_settings_tables_match_the_declared_settings():
    text = README.read_text(encoding="utf-8")
    for name in README_TABLES:
        assert f"<!-- settings:{name}:start -->" in text and f"<!-- settings:{name}:end -->" in text
    assert render_readme(text) == text, (
        f"README.md's settings tables differ from src/deepfake_detection/settings.py; run `{REWRITE}`"
    )
