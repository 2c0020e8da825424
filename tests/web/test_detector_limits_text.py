"""The web app's "What these detectors can and cannot do" text is the README's section, word for word."""

from __future__ import annotations

import re
from pathlib import Path

from deepfake_detection.web import STATIC_DIR

README = Path(__file__).resolve().parents[2] / "README.md"
FRAGMENT = STATIC_DIR / "content" / "detector-limits.md"
HEADING = "### What these models can and cannot do"


def readme_section() -> str:
    """The section's text without its heading and the maintainers' comment."""
    text = README.read_text(encoding="utf-8")
    found = re.search(rf"^{re.escape(HEADING)}\n(.*?)(?=^#{{1,3}} )", text, re.M | re.S)
    assert found, f"README has no section {HEADING!r}"
    return re.sub(r"<!--.*?-->", "", found.group(1), flags=re.S).strip()


def test_the_web_page_text_is_the_readme_section():
    assert FRAGMENT.read_text(encoding="utf-8").strip() == readme_section(), (
        f"{FRAGMENT.relative_to(README.parent)} and the README section {HEADING!r} differ: edit both"
    )


def test_the_section_opens_with_the_one_line_summary():
    # The web app shows the first paragraph under every verdict: it must be one short bold sentence.
    first = readme_section().split("\n\n")[0]
    assert "\n" not in first and first.startswith("**") and first.endswith("**") and len(first) < 200, first
