"""The engine is a plain library: importing and using it pulls in no Flask and no database code; the app
uses only the engine's public interface."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import deepfake_detection.engine as engine_package
from tests.support import media

# What the app may use of a DetectionEngine: the documented interface (docs/architecture.md).
PUBLIC_ENGINE_MEMBERS = {
    "models",
    "model",
    "default_model_key",
    "is_cached",
    "detect_image",
    "detect_video",
    "detect_camera_frame",
    "probe_video",
    "ensemble_members",
    "ensemble_basis",
    "combined_probability",
    "warm_up",
}
# Public engine modules besides the package itself: fitting loads scikit-learn, so it is not imported with it.
PUBLIC_ENGINE_MODULES = {"deepfake_detection.engine.calibration_fit"}
APP_ROOT = Path(engine_package.__file__).resolve().parents[1] / "app"


def test_engine_imports_no_web_or_database_modules(tmp_path):
    photo = tmp_path / "p.jpg"
    media.face_photo(True).save(photo)
    code = (
        "import sys, json\n"
        "from deepfake_detection.engine import DetectionEngine\n"
        f"v = DetectionEngine().detect_image({str(photo)!r})\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('flask', 'sqlalchemy', 'flask_sqlalchemy', 'psycopg', 'psycopg2', 'celery', 'redis', 'werkzeug'"
        ", 'deepfake_detection.app'))\n"
        "bad += [m for m in sys.modules if m.startswith('deepfake_detection.app')]\n"
        "print(json.dumps({'bad': bad, 'fake': v.is_fake}))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=os.environ.copy()
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == {"bad": [], "fake": True}


def _absolute_module(path: Path, node: ast.ImportFrom) -> str:
    """The module an import names, with relative imports resolved against the importing file."""
    if not node.level:
        return node.module or ""
    package = list(path.relative_to(APP_ROOT.parent.parent).with_suffix("").parts)[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _engine_uses(path: Path, source: str) -> list[str]:
    """Imports of engine submodules or unexported names, and engine members outside the public interface."""
    tree = ast.parse(source, filename=str(path))
    problems = []
    gets_engine = False
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            problems += [
                f"import {alias.name}"
                for alias in node.names
                if alias.name.startswith("deepfake_detection.engine.") and alias.name not in PUBLIC_ENGINE_MODULES
            ]
        elif isinstance(node, ast.ImportFrom):
            module = _absolute_module(path, node)
            if module.startswith("deepfake_detection.engine.") and module not in PUBLIC_ENGINE_MODULES:
                problems.append(f"from {module} import ...")
            elif module == "deepfake_detection.engine":
                problems += [
                    f"from {module} import {alias.name}"
                    for alias in node.names
                    if alias.name not in engine_package.__all__
                ]
            elif module == "deepfake_detection.app.engine_ext":
                gets_engine = gets_engine or any(alias.name == "get_engine" for alias in node.names)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute) or node.attr in PUBLIC_ENGINE_MEMBERS:
            continue
        value = node.value
        # An engine is a parameter or variable named `engine`, or what engine_ext.get_engine() returns
        # (SQLAlchemy's `db.engine` is an attribute, not a name, and migrations define their own get_engine).
        is_engine_name = isinstance(value, ast.Name) and value.id == "engine"
        is_get_engine = (
            gets_engine
            and isinstance(value, ast.Call)
            and isinstance(value.func, ast.Name)
            and value.func.id == "get_engine"
        )
        if is_engine_name or is_get_engine:
            problems.append(f"line {node.lineno}: engine.{node.attr}")
    return problems


def test_the_app_uses_only_the_engine_public_interface():
    sources = sorted(APP_ROOT.rglob("*.py"))
    assert len(sources) > 20
    found = {
        str(path.relative_to(APP_ROOT)): problems
        for path in sources
        if (problems := _engine_uses(path, path.read_text()))
    }
    assert found == {}


def test_the_interface_check_catches_submodule_imports_and_other_members():
    """The check must catch what the app did before (engine.video's reader, classifier(), face_detector())."""
    source = (
        "from ...engine.video import VideoReader\n"
        "from ...engine import DetectionEngine, VideoProbe\n"
        "from ..engine_ext import get_engine\n"
        "def f(engine):\n"
        "    engine.classifier(None)\n"
        "    get_engine().face_detector()\n"
        "    engine.warm_up()\n"
        "    return db.engine.dispose()\n"
    )
    problems = _engine_uses(APP_ROOT / "detection" / "example.py", source)
    assert problems == [
        "from deepfake_detection.engine.video import ...",
        "line 5: engine.classifier",
        "line 6: engine.face_detector",
    ]
