"""Drive a production-mode API (PostgreSQL, Redis, Celery) through the Flask test client."""

from __future__ import annotations

import uuid
from pathlib import Path

from tests.production.services import Deployment, wait_until
from tests.support.media import write_video


def production_app(deployment: Deployment, **overrides):
    """An API process of the deployment (create_app with its settings)."""
    from deepfake_detection.app import create_app

    return create_app({**deployment.app_config(), **overrides})


def new_user(client) -> dict:
    """Register and log in a fresh user; returns the Authorization header."""
    name = f"user{uuid.uuid4().hex[:10]}"
    password = "correct horse battery staple " + name
    response = client.post(
        "/api/auth/register", json={"username": name, "email": f"{name}@example.com", "password": password}
    )
    assert response.status_code == 201, response.get_json()
    response = client.post("/api/auth/login", json={"username": name, "password": password})
    assert response.status_code == 200, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['access_token']}"}


def make_video(folder: Path, *, seconds: float, fake: bool = False, fps: int = 5, size=(160, 120)) -> Path:
    """A real H.264 clip of the test media factory."""
    path = folder / f"clip-{uuid.uuid4().hex[:8]}.mp4"
    return write_video(path, seconds=seconds, fps=fps, size=size, fake=fake)


def upload_async(client, headers: dict, video: Path, model: str | None = None) -> int:
    """POST /api/detect/video with async=true (and the model, when given); returns the video id."""
    with open(video, "rb") as handle:
        response = client.post(
            "/api/detect/video",
            headers=headers,
            content_type="multipart/form-data",
            data={"video": (handle, video.name), "async": "true", **({"model": model} if model else {})},
        )
    assert response.status_code == 202, response.get_json()
    return response.get_json()["video_id"]


def video_status(client, headers: dict, video_id: int) -> dict:
    response = client.get(f"/api/videos/{video_id}", headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["video"]


def wait_for_final(client, headers: dict, video_id: int, *, timeout: float = 120) -> dict:
    """Poll the status URL until the job is completed, failed or cancelled."""

    def final():
        video = video_status(client, headers, video_id)
        return video if video["status"] in ("completed", "failed", "cancelled") else None

    return wait_until(final, timeout=timeout, interval=0.2, what=f"video {video_id} to finish")


def store_jobs(api, headers: dict, videos: list[Path]) -> tuple[list[int], list[int]]:
    """Store videos with queued jobs through the detection service, without sending any task.

    Returns (job ids, video ids); the caller decides when the jobs are submitted.
    """
    from deepfake_detection.app.detection.service import store_video_upload
    from deepfake_detection.app.engine_ext import get_engine
    from deepfake_detection.app.extensions import db

    user_id = api.test_client().get("/api/auth/me", headers=headers).get_json()["user"]["id"]
    job_ids, video_ids = [], []
    with api.app_context():
        for video in videos:
            with open(video, "rb") as stream:
                stored, job = store_video_upload(
                    session=db.session,
                    engine=get_engine(api),
                    upload_root=api.config["UPLOAD_FOLDER"],
                    user_id=user_id,
                    stream=stream,
                    original_name=video.name,
                    model_key=None,
                    limit=api.config["MAX_VIDEO_SIZE"],
                )
            job_ids.append(job.id)
            video_ids.append(stored.id)
        db.session.remove()
    return job_ids, video_ids


def submit_held(api, headers: dict, holds, video: Path) -> tuple[int, int]:
    """Store a video with a job that will stop at the hold point, then queue it; returns (job id, video id).

    The hold is asked for before the job is queued, so no worker can start it unheld.
    """
    from deepfake_detection.app.jobs.backends import get_backend

    (job_id,), (video_id,) = store_jobs(api, headers, [video])
    holds.hold(job_id)
    with api.app_context():
        get_backend().submit(job_id)
    return job_id, video_id
