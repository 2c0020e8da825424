"""History (list, filters, pages, item, delete, feedback, media), stats, and ownership between users."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from tests.support import media

from .helpers import assert_error


def detect_image(client, user, fake: bool) -> dict:
    response = client.post(
        "/api/detect/image",
        headers=user.headers,
        content_type="multipart/form-data",
        data={"image": (io.BytesIO(media.image_bytes(media.face_photo(fake=fake))), "p.jpg")},
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def detect_camera(client, user, fake: bool) -> dict:
    image = media.face_data_url(fake=fake)
    response = client.post("/api/detect/camera", headers=user.headers, json={"image": image, "session_id": f"s{fake}"})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


@pytest.fixture
def filled(client, user):
    """Two fake images, one real image, one real camera frame for ``user``."""
    return [
        detect_image(client, user, True),
        detect_image(client, user, True),
        detect_image(client, user, False),
        detect_camera(client, user, False),
    ]


def test_history_lists_everything_newest_first_in_the_documented_shape(client, user, filled):
    body = client.get("/api/history", headers=user.headers).get_json()
    assert body["success"] is True and body["count"] == 4 == len(body["history"]) == body["total"]
    ids = [item["id"] for item in body["history"]]
    assert ids == sorted(ids, reverse=True)
    item = body["history"][-1]
    assert set(item) >= {
        "id",
        "detection_type",
        "content_id",
        "is_fake",
        "confidence_score",
        "detection_time",
        "model_version",
        "feedback",
        "filename",
        "media_url",
    }
    assert item["detection_type"] == "image" and item["is_fake"] is True and item["feedback"] is None
    assert item["detection_time"].endswith("Z") and item["model_version"] == "Dima806 Deepfake Detector"
    assert item["content_id"] == filled[0]["image_id"]


def test_history_filters_and_pages(client, user, filled):
    def get(query):
        response = client.get(f"/api/history?{query}", headers=user.headers)
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    assert get("type=image")["total"] == 3 and get("type=camera")["total"] == 1 and get("type=video")["total"] == 0
    assert get("verdict=fake")["total"] == 2 and get("verdict=real")["total"] == 2
    assert get("type=image&verdict=real")["total"] == 1
    page1, page2, page3 = get("page=1&per_page=3"), get("page=2&per_page=3"), get("page=3&per_page=3")
    assert (page1["count"], page2["count"], page3["count"]) == (3, 1, 0)
    assert page1["pages"] == 2 and page1["total"] == 4 and page1["page"] == 1 and page1["per_page"] == 3
    assert {i["id"] for i in page1["history"]}.isdisjoint({i["id"] for i in page2["history"]})


@pytest.mark.parametrize(
    "query", ["type=audio", "verdict=maybe", "page=0", "page=abc", "per_page=101", "per_page=-1", "page=1e3"]
)
def test_bad_history_queries_are_400(client, user, query):
    assert_error(client.get(f"/api/history?{query}", headers=user.headers), 400)


def test_history_item_has_detail(client, user, filled):
    item = client.get(f"/api/history/{filled[0]['history_id']}", headers=user.headers).get_json()["item"]
    assert item["detail"]["faces"] and item["detail"]["width"] == 512
    camera = client.get(f"/api/history/{filled[3]['history_id']}", headers=user.headers).get_json()["item"]
    assert camera["detail"]["frames_in_window"] == 1 and camera["detection_type"] == "camera"


def test_delete_removes_record_detail_row_and_file(app, client, user, filled):
    images = Path(app.config["UPLOAD_FOLDER"], "images")
    assert len(list(images.iterdir())) == 3
    target = filled[0]
    response = client.delete(f"/api/history/{target['history_id']}", headers=user.headers)
    assert response.status_code == 200 and response.get_json()["success"] is True
    assert len(list(images.iterdir())) == 2
    assert_error(client.get(f"/api/history/{target['history_id']}", headers=user.headers), 404)
    assert_error(client.delete(f"/api/history/{target['history_id']}", headers=user.headers), 404)
    assert client.get("/api/history", headers=user.headers).get_json()["total"] == 3
    camera = filled[3]
    assert client.delete(f"/api/history/{camera['history_id']}", headers=user.headers).status_code == 200
    assert list(Path(app.config["UPLOAD_FOLDER"], "camera").iterdir()) == []


def test_delete_of_a_video_removes_file_and_thumbnail(app, client, user, tmp_path):
    clip = media.write_video(tmp_path / "c.mp4", seconds=1, fps=5).read_bytes()
    body = client.post(
        "/api/detect/video",
        headers=user.headers,
        content_type="multipart/form-data",
        data={"video": (io.BytesIO(clip), "c.mp4")},
    ).get_json()
    videos = Path(app.config["UPLOAD_FOLDER"], "videos")
    assert len(list(videos.iterdir())) == 2  # the video and its thumbnail
    assert client.delete(f"/api/history/{body['history_id']}", headers=user.headers).status_code == 200
    assert list(videos.iterdir()) == []
    assert_error(client.get(f"/api/videos/{body['video_id']}", headers=user.headers), 404)


def test_media_serves_the_stored_image(client, user, filled):
    response = client.get(filled[0]["media_url"], headers=user.headers)
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    assert response.headers["Cache-Control"] == "private, no-store"


def test_stats_are_honest_about_accuracy(client, user, filled):
    stats = client.get("/api/stats", headers=user.headers).get_json()
    assert stats["success"] is True
    assert (stats["total_detections"], stats["fake_count"], stats["real_count"]) == (4, 2, 2)
    # Without feedback, accuracy keeps the documented meaning (mean confidence) and says so.
    assert stats["accuracy_basis"] == "confidence" and stats["feedback_count"] == 0
    assert stats["accuracy"] == stats["average_confidence"]
    assert stats["by_type"] == {"image": 3, "video": 0, "camera": 1}
    assert 0 < stats["average_confidence"] <= 100
    assert len(stats["daily"]) == 30 and stats["daily"][-1]["fake"] == 2 and stats["daily"][-1]["real"] == 2

    for entry, correct in zip(filled[:3], (True, True, False)):
        response = client.post(
            f"/api/history/{entry['history_id']}/feedback", headers=user.headers, json={"correct": correct}
        )
        assert response.status_code == 200 and response.get_json()["item"]["feedback"] is correct
    stats = client.get("/api/stats", headers=user.headers).get_json()
    assert stats["feedback_count"] == 3 and stats["accuracy"] == pytest.approx(66.67)
    assert stats["accuracy_basis"] == "feedback"
    # Changing one's mind replaces the feedback rather than adding to it.
    client.post(f"/api/history/{filled[2]['history_id']}/feedback", headers=user.headers, json={"correct": True})
    assert client.get("/api/stats", headers=user.headers).get_json()["accuracy"] == 100.0


@pytest.mark.parametrize("payload", [{}, {"correct": "yes"}, {"correct": 1}, {"correct": None}, [True]])
def test_bad_feedback_is_400(client, user, filled, payload):
    assert_error(
        client.post(f"/api/history/{filled[0]['history_id']}/feedback", headers=user.headers, json=payload), 400
    )


def test_a_second_user_sees_and_reaches_nothing_of_the_first(app, client, user, other_user, filled):
    assert client.get("/api/history", headers=other_user.headers).get_json()["total"] == 0
    stats = client.get("/api/stats", headers=other_user.headers).get_json()
    assert stats["total_detections"] == 0 and stats["accuracy"] == 0 and stats["accuracy_basis"] == "confidence"
    for entry in filled:
        hid = entry["history_id"]
        assert_error(client.get(f"/api/history/{hid}", headers=other_user.headers), 404)
        assert_error(client.get(f"/api/history/{hid}/media", headers=other_user.headers), 404)
        assert_error(
            client.post(f"/api/history/{hid}/feedback", headers=other_user.headers, json={"correct": False}), 404
        )
        assert_error(client.delete(f"/api/history/{hid}", headers=other_user.headers), 404)
    # Nothing of the first user's changed.
    body = client.get("/api/history", headers=user.headers).get_json()
    assert body["total"] == 4 and all(item["feedback"] is None for item in body["history"])
    assert len(list(Path(app.config["UPLOAD_FOLDER"], "images").iterdir())) == 3


def test_missing_ids_are_404(client, user):
    for method, path in (
        ("get", "/api/history/999"),
        ("delete", "/api/history/999"),
        ("get", "/api/history/999/media"),
        ("get", "/api/history/abc"),
    ):
        assert_error(getattr(client, method)(path, headers=user.headers), 404)
    assert_error(client.post("/api/history/999/feedback", headers=user.headers, json={"correct": True}), 404)


def test_ids_beyond_the_integer_range_are_404_not_500(client, user):
    for path in (
        "/api/history/99999999999999999999",
        "/api/videos/99999999999999999999",
        "/api/history/2147483648/media",
    ):
        assert_error(client.get(path, headers=user.headers), 404)
