"""/api/history: list, one item, delete, feedback, media."""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, jsonify, send_file
from flask_jwt_extended import jwt_required

from ..domain_errors import InvalidInput
from ..extensions import db
from ..jobs.backends import get_backend
from ..request_parsing import current_user_id, json_object, query_int, query_value
from . import service
from .serializers import history_detail, history_item

bp = Blueprint("history", __name__, url_prefix="/api/history")
MAX_PER_PAGE = 100
# Far beyond any real history, and small enough that (page - 1) * per_page fits every database's integers.
MAX_PAGE = 1_000_000


@bp.get("")
@jwt_required()
def list_history():
    """The caller's detections, newest first; page/per_page/type/verdict optional."""
    result = service.list_history(
        session=db.session,
        user_id=current_user_id(),
        detection_type=query_value("type"),
        verdict=query_value("verdict"),
        page=query_int("page", default=None, maximum=MAX_PAGE),
        per_page=query_int("per_page", default=None, maximum=MAX_PER_PAGE),
    )
    items = [history_item(row, content) for row, content in result.items]
    return jsonify(
        success=True,
        history=items,
        count=len(items),
        total=result.total,
        page=result.page,
        per_page=result.per_page,
        pages=result.pages,
    )


@bp.get("/<id:history_id>")
@jwt_required()
def get_item(history_id: int):
    """One of the caller's detections with its detail."""
    row, content = service.get_item(session=db.session, user_id=current_user_id(), history_id=history_id)
    return jsonify(success=True, item=history_detail(row, content))


@bp.delete("/<id:history_id>")
@jwt_required()
def delete_item(history_id: int):
    """Delete one of the caller's detections with its stored media (a video's running job is stopped)."""
    service.delete_item(
        session=db.session,
        user_id=current_user_id(),
        history_id=history_id,
        upload_root=current_app.config["UPLOAD_FOLDER"],
        backend=get_backend(),
    )
    return jsonify(success=True, message="Detection deleted")


@bp.post("/<id:history_id>/feedback")
@jwt_required()
def feedback(history_id: int):
    """Mark a verdict correct or wrong: {"correct": true|false}."""
    data = json_object()
    correct = data.get("correct")
    if not isinstance(correct, bool):
        raise InvalidInput("correct must be true or false", fields={"correct": "Must be a boolean"})
    row, content = service.set_feedback(
        session=db.session, user_id=current_user_id(), history_id=history_id, correct=correct
    )
    return jsonify(success=True, message="Feedback recorded", item=history_item(row, content))


@bp.get("/<id:history_id>/media")
@jwt_required()
def media(history_id: int):
    """The stored image, video thumbnail or camera frame of one of the caller's detections."""
    path, name = service.media_of(
        session=db.session,
        user_id=current_user_id(),
        history_id=history_id,
        upload_root=current_app.config["UPLOAD_FOLDER"],
    )
    response = send_file(path, download_name=name, conditional=True, max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def init_app(app: Flask) -> None:
    """Register the blueprint."""
    app.register_blueprint(bp)
