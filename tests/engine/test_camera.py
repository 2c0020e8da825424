"""Camera smoothing: per-session window with hysteresis, never shared between sessions."""

from __future__ import annotations

import json

import pytest

from deepfake_detection.engine import InMemorySmoothingStore, SmoothingStore
from deepfake_detection.engine.camera import smooth
from tests.support import media


@pytest.fixture(scope="module")
def frames():
    return {False: media.image_bytes(media.face_photo(False)), True: media.image_bytes(media.face_photo(True))}


def test_single_odd_frame_does_not_flip_the_verdict(engine, frames):
    store = InMemorySmoothingStore()
    shown = []
    for fake in [False, False, False, True, False, False]:
        v = engine.detect_camera_frame(frames[fake], session_key="user:1:cam:a", store=store)
        assert v.frame.is_fake is fake, "the raw frame result is not smoothed"
        shown.append(v.is_fake)
    assert shown == [False] * 6


def test_sustained_change_flips_after_the_window_agrees(engine, frames):
    store = InMemorySmoothingStore()
    shown = [
        engine.detect_camera_frame(frames[f], session_key="user:1:cam:b", store=store)
        for f in [False] * 5 + [True] * 5 + [False] * 5
    ]
    flags = [v.is_fake for v in shown]
    # Window 5, enter FAKE at mean >= 0.55 (3 of 5 fake), leave at mean <= 0.45 (3 of 5 real).
    assert flags == [False] * 7 + [True] * 5 + [False] * 3
    last = shown[12]  # window: 2 fake frames then 3 real ones
    assert last.window_size == 5 and last.frames_in_window == 5
    assert last.fake_votes == 2 and last.is_fake is False
    assert last.confidence == pytest.approx(round((1 - last.fake_probability) * 100, 2))
    json.dumps(last.to_dict())


def test_sessions_and_users_never_share_state(engine, frames):
    store = InMemorySmoothingStore()
    for _ in range(5):
        engine.detect_camera_frame(frames[True], session_key="user:1:cam:x", store=store)
    other = engine.detect_camera_frame(frames[False], session_key="user:2:cam:x", store=store)
    assert other.is_fake is False and other.frames_in_window == 1
    same_user_new_session = engine.detect_camera_frame(frames[False], session_key="user:1:cam:y", store=store)
    assert same_user_new_session.frames_in_window == 1


def test_switching_model_starts_a_fresh_window(engine, frames):
    store = InMemorySmoothingStore()
    for _ in range(3):
        engine.detect_camera_frame(frames[True], session_key="user:3:cam", store=store)
    v = engine.detect_camera_frame(frames[False], session_key="user:3:cam", store=store, model_key="deep-fake-v2")
    assert v.frames_in_window == 1 and v.model_key == "deep-fake-v2"


def test_state_expires_after_ttl():
    now = [1000.0]
    store = InMemorySmoothingStore(clock=lambda: now[0])
    store.save("k", {"probabilities": [0.9], "is_fake": True}, ttl_seconds=60)
    assert store.load("k")["probabilities"] == [0.9]
    now[0] += 61
    assert store.load("k") is None
    assert isinstance(store, SmoothingStore)


def test_state_is_json_serialisable_for_redis():
    state = None
    for p in (0.1, 0.9, 0.8, 0.95, 0.2, 0.7, 0.9):
        state = smooth(state, p, window=5, hysteresis=0.1)
        state = json.loads(json.dumps(state))
    assert len(state["probabilities"]) == 5 and state["is_fake"] is True


def test_window_of_one_has_no_memory():
    state = smooth(None, 0.9, window=1, hysteresis=0.0)
    state = smooth(state, 0.1, window=1, hysteresis=0.0)
    assert state["probabilities"] == [0.1] and state["is_fake"] is False


def test_default_store_is_used_without_one(engine, frames):
    a = engine.detect_camera_frame(frames[True], session_key="user:9:default")
    b = engine.detect_camera_frame(frames[True], session_key="user:9:default")
    assert (a.frames_in_window, b.frames_in_window) == (1, 2)
    with pytest.raises(ValueError):
        engine.detect_camera_frame(frames[True], session_key="")
