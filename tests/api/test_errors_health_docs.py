"""JSON errors for every failure class, model-unavailable 503, CORS, health, OpenAPI and docs."""

from __future__ import annotations

import io
import re

from tests.support import media

from .helpers import assert_error, register_and_login


def test_unknown_paths_and_methods_are_json(client, user):
    assert_error(client.get("/api/does-not-exist"), 404)
    body = assert_error(client.put("/api/stats", headers=user.headers), 405)
    assert body["message"] == "Method not allowed"
    assert_error(client.delete("/api/auth/me", headers=user.headers), 405)
    assert_error(client.get("/api/detect/image", headers=user.headers), 405)


def test_unexpected_exceptions_are_a_json_500_without_details(make_app):
    app = make_app(TESTING=False)

    def explode():
        raise RuntimeError("secret internal detail /srv/app/file.py")

    app.add_url_rule("/api/explode", "explode", explode)
    response = app.test_client().get("/api/explode")
    body = assert_error(response, 500)
    assert body["message"] == "Internal server error"
    assert "secret" not in response.get_data(as_text=True)


def test_model_not_available_is_503_with_the_fetch_command(make_app, tmp_path):
    from deepfake_detection.engine import DetectionEngine, EngineSettings

    empty = DetectionEngine(EngineSettings(cache_dir=tmp_path / "no-models", offline=True))
    app = make_app(DETECTION_ENGINE=empty)
    client = app.test_client()
    user = register_and_login(client)
    models = client.get("/api/detect/models").get_json()["models"]
    assert all(model["available"] is False for model in models)
    response = client.post(
        "/api/detect/image",
        headers=user.headers,
        content_type="multipart/form-data",
        data={"image": (io.BytesIO(media.image_bytes(media.face_photo())), "a.jpg")},
    )
    body = assert_error(response, 503)
    assert body["command"] == "deepfake download-models --model dima806"
    assert body["command"] in body["message"]
    assert "no-models" not in response.get_data(as_text=True)
    health = client.get("/api/health").get_json()
    assert health["status"] == "degraded" and "download-models" in health["message"]


def test_health_reports_database_and_models(client):
    response = client.get("/api/health")
    body = response.get_json()
    assert response.status_code == 200 and body["success"] is True and body["status"] == "ok"
    assert body["database"] == {"ok": True, "backend": "sqlite"}
    assert {m["key"] for m in body["models"]} >= {"dima806", "deep-fake-v2", "open-deepfake"}
    assert all(m["cached"] for m in body["models"]) and body["jobs_backend"] == "inprocess"


def test_cors_allows_the_configured_origin_only(client):
    allowed = client.options(
        "/api/detect/models",
        headers={
            "Origin": "http://localhost:5173",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Authorization, Content-Type",
        },
    )
    assert allowed.headers.get("Access-Control-Allow-Origin") == "http://localhost:5173"
    assert "authorization" in allowed.headers.get("Access-Control-Allow-Headers", "").lower()
    # Preflight of a protected upload needs no token.
    preflight = client.options(
        "/api/detect/image",
        headers={
            "Origin": "http://localhost:5173",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Authorization",
        },
    )
    assert preflight.status_code == 200
    assert "POST" in preflight.headers.get("Access-Control-Allow-Methods", "")
    other = client.get("/api/detect/models", headers={"Origin": "http://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers


def test_cors_origins_come_from_the_environment(make_app, monkeypatch):
    monkeypatch.setenv("CORS_ORIGINS", "http://a.example, http://b.example")
    client = make_app().test_client()
    response = client.get("/api/detect/models", headers={"Origin": "http://b.example"})
    assert response.headers.get("Access-Control-Allow-Origin") == "http://b.example"


def test_openapi_describes_every_route(app, client):
    spec = client.get("/api/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    documented = {(path, method.upper()) for path, ops in spec["paths"].items() for method in ops}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or rule.rule.startswith(("/api/docs", "/api/openapi")):
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method) in documented, (path, method)


def test_docs_page_and_its_assets_are_served_locally(client):
    page = client.get("/api/docs/")
    assert page.status_code == 200 and b"swagger-ui" in page.data
    assert b"/api/openapi.json" in page.data
    assert b"https://" not in page.data.replace(b"https://github.com", b"")
    bundle = client.get("/api/docs/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and len(bundle.data) > 100_000
    assert client.get("/api/docs/swagger-ui.css").status_code == 200
