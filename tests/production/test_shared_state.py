"""Two API servers under gunicorn (as on two machines) agree through Redis: logout, camera smoothing, rate limits."""

from __future__ import annotations

import uuid

import pytest
import requests

from tests.support import media

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def two_apis(deployment):
    """Two independent gunicorn servers of the same deployment; requests alternate between them."""
    env = {"RATELIMIT_LOGIN": "5 per minute"}
    _, first = deployment.start_api("api-a", env=env)
    _, second = deployment.start_api("api-b", env=env)
    return first, second


def login(base: str) -> dict:
    name = f"user{uuid.uuid4().hex[:10]}"
    response = requests.post(
        f"{base}/api/auth/register",
        json={"username": name, "email": f"{name}@example.com", "password": PASSWORD},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    response = requests.post(f"{base}/api/auth/login", json={"username": name, "password": PASSWORD}, timeout=30)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_a_token_revoked_on_one_server_is_refused_by_the_other(two_apis):
    first, second = two_apis
    headers = login(first)
    assert requests.get(f"{second}/api/auth/me", headers=headers, timeout=30).status_code == 200

    assert requests.post(f"{first}/api/auth/logout", headers=headers, timeout=30).status_code == 200

    refused = requests.get(f"{second}/api/auth/me", headers=headers, timeout=30)
    assert refused.status_code == 401 and refused.json()["success"] is False


def test_camera_smoothing_window_continues_across_servers(two_apis):
    first, second = two_apis
    headers = login(first)
    frame = media.face_data_url()
    session = f"tab-{uuid.uuid4().hex[:6]}"
    seen = []
    for base in (first, second, first, second):
        response = requests.post(
            f"{base}/api/detect/camera", headers=headers, json={"image": frame, "session_id": session}, timeout=60
        )
        assert response.status_code == 200, response.text
        seen.append(response.json()["frames_in_window"])
    assert seen == [1, 2, 3, 4]


def test_login_rate_limit_counts_attempts_on_every_server(two_apis):
    first, second = two_apis
    statuses = [
        requests.post(
            f"{base}/api/auth/login", json={"username": "nobody", "password": "wrong-password"}, timeout=30
        ).status_code
        for base in (first, second, first, second, first, second)
    ]
    # 5 per minute in total: each server alone saw only 3, so only a shared counter refuses the sixth.
    assert statuses == [401] * 5 + [429]
