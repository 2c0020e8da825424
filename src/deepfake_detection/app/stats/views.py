"""/api/stats."""

from __future__ import annotations

from flask import Blueprint, Flask
from flask_jwt_extended import jwt_required

from ..extensions import db
from ..request_parsing import current_user_id
from ..schemas_common import respond
from .schemas import Stats
from .service import user_stats

bp = Blueprint("stats", __name__, url_prefix="/api")


@bp.get("/stats")
@jwt_required()
def stats():
    """The caller's statistics."""
    return respond(Stats(success=True, **user_stats(session=db.session, user_id=current_user_id())))


def init_app(app: Flask) -> None:
    """Register the blueprint."""
    app.register_blueprint(bp)
