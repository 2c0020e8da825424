"""Dynamic batching: concurrent callers share passes, get their own results and errors; the pass limit holds."""

from __future__ import annotations

import os
import threading
from dataclasses import replace

import numpy as np
import pytest

from deepfake_detection.engine import DetectionEngine, EngineSettings
from deepfake_detection.engine.batching import DynamicBatcher, PassLimiter, default_pass_limit, max_batch_of
from deepfake_detection.engine.device import usable_cpus
from tests.support import media

# Long enough never to close by itself: the batches here close because they are full, never by time.
LONG_WINDOW_MS = 60_000
JOIN_TIMEOUT = 120


def make_engine(**overrides) -> DetectionEngine:
    env = dict(os.environ)
    env.update(overrides)
    return DetectionEngine(EngineSettings.from_env(env))


def photos(count: int) -> list[np.ndarray]:
    return [np.asarray(media.face_photo(bool(i % 2)).convert("RGB").rotate(i * 7)) for i in range(count)]


def run_together(calls: list) -> list:
    """Run every call on its own thread, released together by a barrier; each one's result or exception."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def worker(index: int) -> None:
        barrier.wait()
        try:
            results[index] = calls[index]()
        except Exception as exc:  # collected: the test asserts what each caller got
            results[index] = exc

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_TIMEOUT)
        assert not thread.is_alive()
    return results


class ConcurrencyCountingClassifier:
    """A real classifier, counting how many of its passes run at once; passes meet in groups of `meet`."""

    def __init__(self, base, meet: int) -> None:
        self._base = base
        self.max_batch = base.max_batch
        self._guard = threading.Lock()
        self._meet = threading.Barrier(meet)
        self.active = 0
        self.peak = 0
        self.calls = 0
        self.threads: set[str] = set()

    def fake_probabilities(self, images: list[np.ndarray]) -> np.ndarray:
        with self._guard:
            self.active += 1
            self.calls += 1
            self.threads.add(threading.current_thread().name)
            self.peak = max(self.peak, self.active)
        try:
            # The limit's worth of passes must be inside at once to go on: the limit is reached, not just kept.
            self._meet.wait(JOIN_TIMEOUT)
            return self._base.fake_probabilities(images)
        finally:
            with self._guard:
                self.active -= 1


@pytest.mark.parametrize("precision", ["bf16", "fp32", "int8"])
def test_concurrent_requests_share_a_pass_and_each_gets_its_own_result(tiny_hf_home, precision):
    classifier = make_engine(DEEPFAKE_PRECISION=precision).classifier("dima806")
    images = photos(6)
    alone = [float(classifier.fake_probabilities([image])[0]) for image in images]
    # Requests of one and two images; the batch is full (so the window closes) when all have arrived.
    requests = [images[0:1], images[1:3], images[3:4], images[4:6]]
    batcher = DynamicBatcher(classifier, window_ms=LONG_WINDOW_MS, max_batch=6, limiter=PassLimiter(1))

    results = run_together([lambda r=r: batcher.fake_probabilities(r) for r in requests])

    got = [float(p) for result in results for p in result]
    assert got == pytest.approx(alone, abs=1e-5)
    assert [len(result) for result in results] == [1, 2, 1, 2]
    stats = batcher.stats()
    assert stats["requests"] == 4
    assert stats["passes"] == 1 < len(requests)
    assert stats["images_per_pass"] == {6: 1}
    assert stats["shared_passes"] == 1


def test_concurrent_detect_image_calls_share_passes_with_unchanged_verdicts(tiny_hf_home):
    threads = 4
    settings = dict(DEEPFAKE_FACE_DETECTION="0", DEEPFAKE_BATCH_SIZE=str(threads))
    # Beyond what DEEPFAKE_BATCH_WINDOW_MS accepts (1000): the window must not close by time here.
    engine = DetectionEngine(
        replace(EngineSettings.from_env(dict(os.environ, **settings)), batch_window_ms=LONG_WINDOW_MS)
    )
    unbatched = make_engine(DEEPFAKE_BATCH_WINDOW_MS="0", **settings)
    sources = [media.image_bytes(media.face_photo(bool(i % 2))) for i in range(threads)]
    expected = [unbatched.detect_image(source).fake_probability for source in sources]

    verdicts = run_together([lambda s=s: engine.detect_image(s) for s in sources])

    assert [v.fake_probability for v in verdicts] == pytest.approx(expected, abs=1e-5)
    assert [v.is_fake for v in verdicts] == [False, True, False, True]
    stats = engine.batching_stats()["models"]["dima806"]
    assert stats["passes"] == 1 and stats["images_per_pass"] == {threads: 1}


def test_an_error_in_a_shared_pass_reaches_every_waiter(tiny_hf_home):
    classifier = make_engine().classifier("dima806")
    good = photos(3)
    grey = np.zeros((40, 40), dtype=np.uint8)  # no channel axis: cannot be stacked with RGB images
    batcher = DynamicBatcher(classifier, window_ms=LONG_WINDOW_MS, max_batch=4, limiter=PassLimiter(1))

    results = run_together([lambda i=i: batcher.fake_probabilities([i]) for i in [*good, grey]])

    assert all(isinstance(result, ValueError) for result in results), results
    assert batcher.stats()["errors"] == 1
    # The batcher is not stuck: the next request runs.
    after = DynamicBatcher(classifier, window_ms=LONG_WINDOW_MS, max_batch=1, limiter=batcher.limiter)
    assert after.fake_probabilities(good[:1]).shape == (1,)
    assert batcher.limiter.stats()["active"] == 0


def test_window_zero_runs_every_request_in_its_own_pass(tiny_hf_home):
    engine = make_engine(DEEPFAKE_BATCH_WINDOW_MS="0", DEEPFAKE_FACE_DETECTION="0")
    sources = [media.image_bytes(media.face_photo(bool(i % 2))) for i in range(4)]

    verdicts = run_together([lambda s=s: engine.detect_image(s) for s in sources])

    assert [v.is_fake for v in verdicts] == [False, True, False, True]
    stats = engine.batching_stats()["models"]["dima806"]
    assert stats["window_ms"] == 0
    assert stats["passes"] == 4 and stats["images_per_pass"] == {1: 4} and stats["shared_passes"] == 0


def test_a_caller_that_times_out_leaves_a_batch_that_has_not_started(tiny_hf_home):
    classifier = make_engine().classifier("dima806")
    images = photos(4)
    batcher = DynamicBatcher(classifier, window_ms=LONG_WINDOW_MS, max_batch=3, limiter=PassLimiter(1))
    leader_result: list = []
    leader = threading.Thread(target=lambda: leader_result.append(batcher.fake_probabilities(images[:1])))
    leader.start()
    assert batcher.wait_for_batch(1, timeout=JOIN_TIMEOUT)

    with pytest.raises(TimeoutError):
        batcher.fake_probabilities(images[1:2], timeout=0.01)  # the window is open for a minute

    assert batcher.fake_probabilities(images[2:4]).shape == (2,)  # fills the batch: it runs now
    leader.join(JOIN_TIMEOUT)
    assert leader_result[0].shape == (1,)
    stats = batcher.stats()
    assert stats["timeouts"] == 1
    assert stats["passes"] == 1 and stats["images_per_pass"] == {3: 1}  # without the one that left


def test_the_pass_limiter_never_runs_more_passes_than_its_limit(tiny_hf_home):
    limit = 2
    counting = ConcurrencyCountingClassifier(make_engine().classifier("dima806"), meet=limit)
    limiter = PassLimiter(limit)
    images = photos(8)
    # Two unbatched batchers and the video path's window-free calls, all under one limiter.
    first = DynamicBatcher(counting, window_ms=0, limiter=limiter)
    second = DynamicBatcher(counting, window_ms=0, limiter=limiter)
    calls = [lambda i=i: first.fake_probabilities([i]) for i in images[:4]]
    calls += [lambda i=i: second.fake_probabilities([i]) for i in images[4:7]]
    calls += [lambda: first.alone.fake_probabilities(images[6:8])]  # two images, max batch 8: one pass

    results = run_together(calls)

    assert all(isinstance(result, np.ndarray) for result in results), results
    assert counting.calls == 8  # an even number: the passes meet in pairs
    assert counting.peak == limit
    # On the limiter's own threads, never the callers': one torch thread pool and malloc arena per slot.
    assert len(counting.threads) == limit and all(n.startswith("deepfake-pass") for n in counting.threads)
    assert limiter.stats()["peak"] == limit and limiter.stats()["active"] == 0


def test_images_and_a_video_in_one_engine_stay_within_the_pass_limit(tiny_hf_home, tmp_path):
    video = media.write_video(tmp_path / "clip.mp4", seconds=3, fps=10, size=(160, 120), fake=False)
    engine = DetectionEngine(EngineSettings.from_env(dict(os.environ)), pass_limiter=PassLimiter(1))
    sources = [media.image_bytes(media.face_photo(bool(i % 2))) for i in range(4)]

    results = run_together([lambda: engine.detect_video(video)] + [lambda s=s: engine.detect_image(s) for s in sources])

    assert results[0].frames_analyzed == 3
    assert [v.is_fake for v in results[1:]] == [False, True, False, True]
    limiter = engine.batching_stats()["pass_limiter"]
    assert limiter["peak"] == 1 and limiter["active"] == 0
    assert limiter["passes"] == engine.batching_stats()["models"]["dima806"]["passes"]


def test_default_pass_limit_keeps_threads_times_passes_within_the_cpus():
    import torch

    assert default_pass_limit() == max(1, usable_cpus() // torch.get_num_threads())


def test_max_batch_follows_the_classifier(tiny_hf_home):
    assert max_batch_of(make_engine(DEEPFAKE_BATCH_SIZE="5").classifier("dima806")) == 5
    assert max_batch_of(make_engine(DEEPFAKE_PRECISION="int8").classifier("dima806")) == 1  # batch-dependent


def test_freed_memory_goes_back_to_the_os_when_passes_come_to_rest(tiny_hf_home):
    """Each pass that leaves the limiter idle releases freed memory (with no delay, as configured here)."""
    limiter = PassLimiter(1, idle_release_seconds=0)  # 0: at once, so the test needs no waiting
    engine = DetectionEngine(EngineSettings.from_env(dict(os.environ)), pass_limiter=limiter)
    classifier = engine.classifier("dima806")
    for image in photos(3):
        limiter.run(lambda image=image: classifier.fake_probabilities([image]))
    assert limiter.stats()["releases"] == limiter.stats()["passes"] == 3


def test_a_burst_of_passes_waits_on_one_timer_and_does_not_release_before_the_rest_delay():
    limiter = PassLimiter(1, idle_release_seconds=3600)  # never fires during the test
    limiter.run(lambda: None)
    timer = limiter._timer
    assert timer is not None and timer.is_alive()
    for _ in range(3):
        limiter.run(lambda: None)
    assert limiter._timer is timer  # no thread per pass: the one timer waits out the rest
    assert limiter.stats()["releases"] == 0 and limiter.stats()["passes"] == 4
    timer.cancel()


def test_the_timer_releases_once_the_rest_is_long_enough_and_waits_on_otherwise():
    limiter = PassLimiter(1, idle_release_seconds=3600)
    limiter.run(lambda: None)
    first = limiter._timer
    assert first is not None
    first.cancel()  # the test plays the timer's part itself, without waiting an hour
    limiter._on_timer()  # fired too early (just after the pass): it waits again, no release
    assert limiter.stats()["releases"] == 0 and limiter._timer is not None and limiter._timer is not first
    limiter._timer.cancel()
    limiter._idle_since -= 3600  # the last pass ended an hour ago
    limiter._on_timer()
    assert limiter.stats()["releases"] == 1 and limiter._timer is None
