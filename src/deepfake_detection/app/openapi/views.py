"""/api/openapi.json and the interactive docs at /api/docs (Swagger UI assets shipped by flask-swagger-ui)."""

from __future__ import annotations

from flask import Flask, jsonify
from flask_swagger_ui import get_swaggerui_blueprint

from ..detection.service import model_keys
from ..engine_ext import get_engine
from .spec import build_spec


def init_app(app: Flask) -> None:
    """Register the spec route and the docs blueprint."""

    @app.get("/api/openapi.json")
    def openapi_json():
        """The OpenAPI 3 description of the whole API."""
        return jsonify(build_spec(tuple(model_keys(engine=get_engine()))))

    docs = get_swaggerui_blueprint(
        "/api/docs", "/api/openapi.json", config={"app_name": "Deepfake Detection API"}, blueprint_name="api_docs"
    )
    app.register_blueprint(docs)
