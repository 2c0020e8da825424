"""Every import sits at the top of its module: an import inside a function hides a dependency (and a cycle)."""

from __future__ import annotations

import ast
from pathlib import Path

import deepfake_detection

SRC_ROOT = Path(deepfake_detection.__file__).resolve().parent
# Alembic revision scripts follow Alembic's own template; they are not part of the import graph.
EXCLUDED = (SRC_ROOT / "app" / "migrations",)

# Paths (relative to src/deepfake_detection) that may import inside functions, each with its reason. The only
# lasting reasons: an optional dependency, or a heavy one that only some processes need, with its measured
# cost (issue 12's memory target; tests/engine/test_serving_footprint.py checks a serving process stays free
# of them).
ALLOWED_INNER_IMPORTS: dict[str, str] = {
    "engine/device.py": "transformers' attention registry pulls its modelling stack (+120 MB RSS): PyTorch models only",
    "engine/backends/source.py": "AutoImageProcessor (+130 MB RSS): only for processors the plain reader does not know",
    "engine/backends/__init__.py": "exporter and ONNX Runtime's quantizer (+20 MB RSS): only when preparing a model",
    "engine/calibration_fit.py": "scikit-learn (+45 MB RSS): only when fitting a calibration",
}


def _inner_imports(path: Path) -> list[str]:
    """Each import statement that sits inside a function or method of the file, as 'path:line: import'."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for function in ast.walk(tree):
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found += [
                f"{path.relative_to(SRC_ROOT).as_posix()}:{node.lineno}: {ast.unparse(node)}"
                for node in ast.walk(function)
                if isinstance(node, (ast.Import, ast.ImportFrom))
            ]
    return found


def _source_files() -> list[Path]:
    return [
        path
        for path in sorted(SRC_ROOT.rglob("*.py"))
        if not any(path.is_relative_to(excluded) for excluded in EXCLUDED)
    ]


def test_no_imports_inside_functions():
    inner = [
        line
        for path in _source_files()
        if path.relative_to(SRC_ROOT).as_posix() not in ALLOWED_INNER_IMPORTS
        for line in _inner_imports(path)
    ]
    assert inner == [], "imports inside functions (move them to the top of the module):\n" + "\n".join(inner)


def test_allow_list_names_only_files_that_still_need_it():
    # A file that no longer imports inside functions leaves the allow-list, so it cannot regress unseen.
    stale = sorted(
        name for name in ALLOWED_INNER_IMPORTS if not (SRC_ROOT / name).is_file() or not _inner_imports(SRC_ROOT / name)
    )
    assert stale == [], f"remove from ALLOWED_INNER_IMPORTS: {stale}"
