"""The health check: is the database reachable and migrated, which models are cached."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

from ...engine import DetectionEngine
from ..detection.service import list_models
from .schema import UPGRADE_COMMAND, SchemaGuard, behind_message

log = logging.getLogger(__name__)


def database_reachable(*, db_engine: Engine) -> bool:
    """Whether the database answers a trivial query (the failure is logged)."""
    try:
        with db_engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:
        log.exception("Health check: database unreachable")
        return False
    return True


def health_report(
    *, db_engine: Engine, guard: SchemaGuard, get_engine: Callable[[], DetectionEngine], jobs_backend: str, mode: str
) -> tuple[dict[str, Any], bool]:
    """The /api/health body and whether the service is healthy (the database answers with the current schema;
    models may still be missing: they are listed)."""
    database_ok = database_reachable(db_engine=db_engine)
    state = guard.state(db_engine, fresh=True) if database_ok else None
    schema_ok = state is None or not state.behind
    models = []
    try:
        models = [
            {"key": m["key"], "model_id": m["model_id"], "cached": m["available"], "default": m["default"]}
            for m in list_models(engine=get_engine())
        ]
    except Exception:
        log.exception("Health check: engine unavailable")
    default_cached = any(m["cached"] for m in models if m["default"])
    healthy = database_ok and schema_ok
    body = {
        "success": healthy,
        "status": "ok" if healthy and default_cached else ("degraded" if healthy else "error"),
        "database": {"ok": database_ok, "backend": db_engine.dialect.name},
        "schema": {
            "ok": database_ok and schema_ok,
            "revision": list(state.database) if state else None,
            "head": list(state.code) if state else None,
        },
        "models": models,
        "models_cached": sum(1 for m in models if m["cached"]),
        "jobs_backend": jobs_backend,
        "mode": mode,
    }
    if not database_ok:
        body["message"] = "The database is not reachable"
    elif not schema_ok:
        assert state is not None  # the database answered, so the guard read its schema state
        body["message"] = behind_message(state, mode=mode)
        body["command"] = UPGRADE_COMMAND
    elif not default_cached:
        body["message"] = "The default model is not cached yet; fetch it with: deepfake download-models"
    return body, healthy
