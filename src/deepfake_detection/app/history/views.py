"""/api/history: list, one item, delete, feedback, media."""

from __future__ import annotations

from flask import Blueprint, Flask, current_app
from flask_jwt_extended import jwt_required

from ..extensions import db
from ..jobs.backends import get_backend
from ..media_response import private_file
from ..request_parsing import current_user_id
from ..schemas_common import Message, parse_body, parse_query, respond
from . import service
from .schemas import FeedbackRecorded, FeedbackRequest, HistoryEntry, HistoryItem, HistoryList, HistoryQuery

bp = Blueprint("history", __name__, url_prefix="/api/history")


@bp.get("")
@jwt_required()
def list_history():
    """The caller's detections, newest first; page/per_page/type/verdict optional."""
    query = parse_query(HistoryQuery)
    result = service.list_history(
        session=db.session,
        user_id=current_user_id(),
        detection_type=query.detection_type,
        verdict=query.verdict,
        page=query.page,
        per_page=query.per_page,
    )
    items = [HistoryItem.of(row, content) for row, content in result.items]
    return respond(
        HistoryList(
            success=True,
            history=items,
            count=len(items),
            total=result.total,
            page=result.page,
            per_page=result.per_page,
            pages=result.pages,
        )
    )


@bp.get("/<id:history_id>")
@jwt_required()
def get_item(history_id: int):
    """One of the caller's detections with its detail."""
    row, content = service.get_item(session=db.session, user_id=current_user_id(), history_id=history_id)
    return respond(HistoryEntry(success=True, item=HistoryItem.of(row, content, detail=True)))


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
    return respond(Message(success=True, message="Detection deleted"))


@bp.post("/<id:history_id>/feedback")
@jwt_required()
def feedback(history_id: int):
    """Mark a verdict correct or wrong: {"correct": true|false}."""
    form = parse_body(FeedbackRequest)
    row, content = service.set_feedback(
        session=db.session, user_id=current_user_id(), history_id=history_id, correct=form.correct
    )
    return respond(FeedbackRecorded(success=True, message="Feedback recorded", item=HistoryItem.of(row, content)))


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
    return private_file(path, name)


def init_app(app: Flask) -> None:
    """Register the blueprint."""
    app.register_blueprint(bp)
