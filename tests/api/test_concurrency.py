"""Concurrent requests from threads on one SQLite database: no errors, no lost rows."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from deepfake_detection.app.auth.models import User
from deepfake_detection.app.detection.models import CameraDetection, Image, Video
from deepfake_detection.app.extensions import db
from deepfake_detection.app.history.models import DetectionHistory
from deepfake_detection.app.jobs.backends import BACKEND_KEY
from deepfake_detection.app.jobs.models import Job
from tests.support import media

from .helpers import register_and_login

THREADS = 8
ROUNDS = 4


def test_parallel_users_detect_and_read_without_errors_or_lost_rows(app, tmp_path):
    jpeg = media.image_bytes(media.face_photo(fake=True))
    clip = media.write_video(tmp_path / "c.mp4", seconds=2, fps=5).read_bytes()
    jobs: list[int] = []
    frame = media.face_data_url()

    def work(index: int) -> list[int]:
        client = app.test_client()
        user = register_and_login(client, f"parallel{index}")
        statuses = []
        # A background job writing progress while the requests below write their rows.
        accepted = client.post(
            "/api/detect/video?async=true",
            headers=user.headers,
            content_type="multipart/form-data",
            data={"video": (io.BytesIO(clip), "c.mp4")},
        )
        assert accepted.status_code == 202, accepted.get_json()
        jobs.append(accepted.get_json()["job_id"])
        for round_ in range(ROUNDS):
            statuses.append(
                client.post(
                    "/api/detect/image",
                    headers=user.headers,
                    content_type="multipart/form-data",
                    data={"image": (io.BytesIO(jpeg), f"p{round_}.jpg")},
                ).status_code
            )
            statuses.append(
                client.post(
                    "/api/detect/camera", headers=user.headers, json={"image": frame, "session_id": "s"}
                ).status_code
            )
            statuses.append(client.get("/api/history", headers=user.headers).status_code)
            statuses.append(client.get("/api/stats", headers=user.headers).status_code)
        return statuses

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        results = list(pool.map(work, range(THREADS)))
    assert all(status == 200 for statuses in results for status in statuses), results
    backend = app.extensions[BACKEND_KEY]
    for job_id in jobs:
        backend.wait(job_id, timeout=120)
    with app.app_context():
        assert {job.status for job in db.session.execute(select(Job)).scalars()} == {"completed"}
        assert db.session.execute(select(func.count(Video.id))).scalar_one() == THREADS
        count = lambda model: db.session.execute(select(func.count(model.id))).scalar_one()  # noqa: E731
        assert count(Image) == THREADS * ROUNDS
        assert count(CameraDetection) == THREADS * ROUNDS
        assert count(DetectionHistory) == 2 * THREADS * ROUNDS + THREADS


def test_racing_registrations_of_one_name_give_one_201_and_409s(app):
    def register(_):
        client = app.test_client()
        return client.post(
            "/api/auth/register",
            json={"username": "samename", "email": "same@example.com", "password": "Correct-Horse-Battery-9"},
        ).status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = sorted(pool.map(register, range(6)))
    assert statuses == [201] + [409] * 5


def test_racing_registrations_of_case_variants_give_one_201(app):
    variants = ["Bob", "bob", "BOB", "bOb", "boB", "BoB"]

    def register(index):
        client = app.test_client()
        return client.post(
            "/api/auth/register",
            json={
                "username": variants[index],
                "email": f"{variants[index]}@Example.com",
                "password": "Correct-Horse-Battery-9",
            },
        ).status_code

    with ThreadPoolExecutor(max_workers=len(variants)) as pool:
        statuses = list(pool.map(register, range(len(variants))))
    assert sorted(statuses) == [201] + [409] * (len(variants) - 1), statuses
    with app.app_context():
        assert db.session.execute(select(func.count(User.id))).scalar_one() == 1
