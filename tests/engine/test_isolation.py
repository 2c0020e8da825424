"""The engine is a plain library: importing and using it pulls in no Flask and no database code."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.support import media


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
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env=os.environ.copy())
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == {"bad": [], "fake": True}
