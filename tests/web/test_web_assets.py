"""The server side of the web app: the shell, its assets and the vendored libraries."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import requests

from deepfake_detection.web import STATIC_DIR


def test_the_shell_is_served_at_the_root_and_never_cached(live_server):
    response = requests.get(f"{live_server.url}/", timeout=30)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.headers["Cache-Control"] == "no-cache"
    assert '<script type="module" src="/assets/js/main.js">' in response.text
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_every_script_module_is_served_as_javascript(live_server):
    modules = sorted(p.relative_to(STATIC_DIR).as_posix() for p in (STATIC_DIR / "js").rglob("*.js"))
    assert "js/main.js" in modules and "js/pages/camera.js" in modules
    for module in modules + ["vendor/chart.umd.min.js", "css/app.css"]:
        response = requests.get(f"{live_server.url}/assets/{module}", timeout=30)
        assert response.status_code == 200, module
        expected = "text/css" if module.endswith(".css") else "javascript"
        assert expected in response.headers["Content-Type"], (module, response.headers["Content-Type"])


def test_relative_imports_point_at_existing_modules():
    for path in (STATIC_DIR / "js").rglob("*.js"):
        for target in re.findall(r'from "(\.[^"]+)"', path.read_text(encoding="utf-8")):
            assert (path.parent / target).resolve().is_file(), f"{path.name} imports missing {target}"


def test_unknown_assets_are_404_not_500(live_server):
    for path in ("/assets/nope.js", "/assets/../__init__.py", "/assets/%2e%2e/__init__.py"):
        assert requests.get(f"{live_server.url}{path}", timeout=30).status_code == 404, path


def test_every_vendored_file_is_recorded_with_its_checksum():
    vendor = STATIC_DIR / "vendor"
    table = (vendor / "VENDORED.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([^`]+)` \| `([^`]+)` \| ([^|]+) \| ([^|]+) \|[^|]*\| `([0-9a-f]{64})` \|$", table, re.M)
    recorded = {name: digest for name, _package, _version, _license, digest in rows}
    shipped = {p.name for p in vendor.iterdir() if p.suffix == ".js"}
    assert shipped == set(recorded), (shipped, recorded)
    for name, digest in recorded.items():
        assert hashlib.sha256(Path(vendor / name).read_bytes()).hexdigest() == digest, name
