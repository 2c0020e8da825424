"""Every answer names the inference backend and precision that produced its verdict (part of the evidence)."""

from __future__ import annotations

import io

from tests.support import media


def _backend_of_engine(engine) -> str:
    return engine.detect_image(media.image_bytes(media.face_photo())).backend


def test_image_video_and_camera_answers_and_history_name_the_backend(app, client, user, engine, tmp_path):
    expected = _backend_of_engine(engine)
    assert expected.startswith("pytorch/")  # the test environment's DEEPFAKE_BACKEND
    image = client.post(
        "/api/detect/image",
        headers=user.headers,
        content_type="multipart/form-data",
        data={"image": (io.BytesIO(media.image_bytes(media.face_photo())), "p.jpg")},
    ).get_json()
    assert image["backend"] == expected
    clip = media.write_video(tmp_path / "c.mp4", seconds=2, fps=10, fake=False).read_bytes()
    video = client.post(
        "/api/detect/video",
        headers=user.headers,
        content_type="multipart/form-data",
        data={"video": (io.BytesIO(clip), "c.mp4")},
    ).get_json()
    assert video["backend"] == expected
    status = client.get(f"/api/videos/{video['video_id']}", headers=user.headers).get_json()
    assert status["video"]["backend"] == expected
    camera = client.post(
        "/api/detect/camera", headers=user.headers, json={"image": media.face_data_url(False)}
    ).get_json()
    assert camera["backend"] == camera["frame"]["backend"]
    detail = client.get(f"/api/history/{image['history_id']}", headers=user.headers).get_json()
    assert detail["item"]["detail"]["backend"] == expected
