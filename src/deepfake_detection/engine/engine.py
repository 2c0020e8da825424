"""DetectionEngine: the one object callers use for images, videos and camera frames."""

from __future__ import annotations

import io
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from typing import Any, Callable, Iterable, Mapping

import av
import numpy as np
import torch
from PIL import Image

from .analysis import ImageAnalysis, boxes_to_original, classify_prepared, fold_probabilities, prepare_image
from .backends import prepared_status
from .batching import PROCESS_PASS_LIMITER, DynamicBatcher, PassLimiter
from .calibration import Calibration
from .camera import InMemorySmoothingStore, SmoothingStore, smooth
from .device import Placement, choose_placement, tune_allocator, usable_cpus
from .ensemble import MemberResult, MemberVerdict, combine, disagreement, face_summary, video_segments
from .errors import DetectionCancelled, InvalidMediaError, ModelUnavailableError
from .faces import FaceDetector
from .images import ImageSource, load_image
from .memory import release_freed_memory
from .models import Classifier, ModelCache, is_cached
from .registry import ENSEMBLE_KEY, ModelRegistry, ModelSpec
from .robustness import VARIANTS, Stability, stability, variants
from .settings import EngineSettings
from .verdicts import CameraVerdict, FrameResult, ImageVerdict, VideoVerdict, confidence_of, percent
from .video import VideoProbe, VideoReader, frame_pipeline, sample_times

THUMBNAIL_MAX_SIDE = 320
# Frames face-detected and classified together (one model batch).
VIDEO_CHUNK_FRAMES = 8


@dataclass
class _MemberRun:
    """One member's analysis of an image, its self-test, and the backend that ran it."""

    spec: ModelSpec
    analysis: ImageAnalysis
    stability: Stability | None
    backend: str


def _elapsed_ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000.0, 1)


def _named(calibration: Calibration) -> dict[str, Any]:
    """What an answer says of an applied calibration (the app adds its id)."""
    return {"method": calibration.method, "n_real": calibration.n_real, "n_fake": calibration.n_fake}


def _thumbnail_jpeg(rgb: np.ndarray) -> bytes:
    image = Image.fromarray(rgb)
    image.thumbnail((THUMBNAIL_MAX_SIDE, THUMBNAIL_MAX_SIDE))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def _ask_together(batchers: list[DynamicBatcher], inputs: list[np.ndarray]) -> list[np.ndarray]:
    """Each batcher's probabilities for the same inputs, all asked at once (an ensemble's members).

    A lone request waits out its batcher's window (DEEPFAKE_BATCH_WINDOW_MS) for company: asked one
    after another, three members waited three windows. Asked at once, the windows overlap; the passes
    still queue on the pass limiter, so they never compete for the cores.
    """
    if len(batchers) == 1:
        return [batchers[0].fake_probabilities(inputs)]
    with ThreadPoolExecutor(max_workers=len(batchers) - 1, thread_name_prefix="deepfake-member") as pool:
        others = [pool.submit(batcher.fake_probabilities, inputs) for batcher in batchers[1:]]
        first = batchers[0].fake_probabilities(inputs)
        return [first, *(future.result() for future in others)]


class DetectionEngine:
    """Cheap to create; models and the face detector load lazily, once, thread-safely."""

    def __init__(self, settings: EngineSettings | None = None, *, pass_limiter: PassLimiter | None = None):
        self.settings = settings or EngineSettings.from_env()
        self.registry = ModelRegistry(self.settings)
        # Process-wide by default: torch's threads are, and so is the budget of cores they share.
        self.pass_limiter = pass_limiter if pass_limiter is not None else PROCESS_PASS_LIMITER
        self._placement: Placement | None = None
        self._models: ModelCache | None = None
        self._batchers: dict[str, DynamicBatcher] = {}
        self._detector: FaceDetector | None = None
        self._lock = threading.Lock()
        self._camera_store = InMemorySmoothingStore()

    # --- models -------------------------------------------------------------------------
    @property
    def default_model_key(self) -> str:
        return self.registry.default_key

    def models(self) -> list[ModelSpec]:
        """Every selectable model."""
        return self.registry.all()

    def model(self, key: str | None = None) -> ModelSpec:
        """The spec for key (default when None); UnknownModelError if unknown."""
        return self.registry.get(key)

    def is_cached(self, key: str) -> bool:
        """Whether the model's weights are on disk (no network)."""
        return is_cached(self.registry.get(key), self.settings)

    @property
    def placement(self) -> Placement:
        """Device and precision, decided on first use."""
        with self._lock:
            if self._placement is None:
                if self.settings.torch_threads > 0:
                    torch.set_num_threads(self.settings.torch_threads)
                self._placement = choose_placement(self.settings)
                if self.settings.tune_allocator and self._placement.device.type == "cpu":
                    tune_allocator()
                self._models = ModelCache(self.settings, self._placement)
            return self._placement

    def classifier(self, key: str | None = None) -> Classifier:
        """The loaded classifier for key, loading it on first use."""
        spec = self.registry.get(key)
        _ = self.placement
        assert self._models is not None  # the placement property creates the cache
        return self._models.get(spec)

    def batcher(self, key: str | None = None) -> DynamicBatcher:
        """The dynamic batcher of key's classifier (DEEPFAKE_BATCH_WINDOW_MS), loading the model on first use."""
        spec_key = self.registry.get(key).key
        classifier = self.classifier(spec_key)
        with self._lock:
            found = self._batchers.get(spec_key)
            if found is None or found.classifier is not classifier:
                found = DynamicBatcher(classifier, window_ms=self.settings.batch_window_ms, limiter=self.pass_limiter)
                self._batchers[spec_key] = found
            return found

    def batching_stats(self) -> dict[str, Any]:
        """Pass limiter and per-model batcher counters (passes run, images per pass, ...), for diagnostics."""
        with self._lock:
            batchers = dict(self._batchers)
        return {
            "pass_limiter": self.pass_limiter.stats(),
            "models": {key: batcher.stats() for key, batcher in batchers.items()},
        }

    def loaded_models(self) -> list[str]:
        """Keys of models currently in memory."""
        return self._models.loaded_keys() if self._models else []

    def backend_status(self, key: str) -> dict[str, Any]:
        """Backend and precision serving key, whether it is prepared, and its self-check gap against fp32.

        For a loaded model what actually runs; otherwise what the prepared cache holds for the first
        backend of this machine's chain (nothing is loaded or built).
        """
        spec = self.registry.get(key)
        _ = self.placement
        assert self._models is not None  # the placement property creates the cache
        loaded = self._models.loaded().get(spec.key)
        if loaded is not None:
            check = loaded.agreement or {}
            return {
                "backend": loaded.backend,
                "loaded": True,
                "prepared": True if loaded.agreement is not None else None,
                "max_gap": check.get("max_gap"),
                "passed": check.get("passed"),
            }
        return {"loaded": False, **prepared_status(spec, self.settings, self._models.chain, self._models.store)}

    def face_detector(self) -> FaceDetector | None:
        """The shared face detector, or None when face detection is switched off."""
        if not self.settings.face_detection:
            return None
        with self._lock:
            if self._detector is None:
                self._detector = FaceDetector(
                    min_score=self.settings.face_min_score,
                    min_size=self.settings.face_min_size,
                    max_faces=self.settings.max_faces,
                )
            return self._detector

    def warm_up(self, model_keys: Iterable[str | None] | None = None) -> list[str]:
        """Load the given models (default: the default model) and the face detector now; returns the model keys.

        For processes that should pay the load time before their first request or job. Raises
        UnknownModelError, ModelUnavailableError or ModelLabelError like a detection would.
        """
        keys = [self.registry.get(key).key for key in (model_keys if model_keys is not None else [None])]
        for key in keys:
            self.classifier(key)
        self.face_detector()
        return keys

    # --- images -------------------------------------------------------------------------
    def ensemble_members(self) -> list[ModelSpec]:
        """The models the ``ensemble`` key combines: DEEPFAKE_ENSEMBLE_MEMBERS, else every model with cached weights."""
        configured = [k.strip() for k in self.settings.ensemble_members.replace(";", ",").split(",") if k.strip()]
        if configured:
            return [self.registry.get(key) for key in dict.fromkeys(configured)]
        return [spec for spec in self.registry.all() if self.is_cached(spec.key)]

    def ensemble_basis(
        self, calibrations: Mapping[str, Calibration] | None = None, *, members: Iterable[str] | None = None
    ) -> dict[str, Any]:
        """What the ensemble's combined probability depends on, as a calibration of the combination records it.

        ``{"members": {key: {"calibration": fingerprint of its calibration or None, "weight": w}}}`` for
        ``members`` (default: ``ensemble_members()``) under ``calibrations``; a calibration of the
        combination applies only while this is what it was fitted under.
        """
        keys = [spec.key for spec in self.ensemble_members()] if members is None else list(members)
        calibrations = calibrations or {}
        return {
            "members": {
                key: {
                    "calibration": calibrations[key].fingerprint() if key in calibrations else None,
                    "weight": float(self.settings.ensemble.weights.get(key, 1.0)),
                }
                for key in keys
            }
        }

    def combined_probability(self, raw: Mapping[str, float], calibrations: Mapping[str, Calibration]) -> float:
        """The ensemble's combined probability (before any calibration of it) of its members' raw probabilities.

        ``raw`` maps each of ``ensemble_members()`` to its raw fake probability (ValueError otherwise);
        each is calibrated with ``calibrations`` as detect_image does, then combined by the deployment's rule.
        """
        keys = [spec.key for spec in self.ensemble_members()]
        if set(raw) != set(keys):
            raise ValueError(f"need the raw probability of each member ({', '.join(keys)}), got {sorted(raw)}")
        results = []
        for spec in self.ensemble_members():
            p = float(raw[spec.key])
            found = calibrations.get(spec.key)
            results.append(MemberResult(spec.key, spec.name, p, None if found is None else found.apply(p)))
        return combine(results, self.settings.ensemble).fake_probability

    def detect_image(
        self,
        source: ImageSource,
        *,
        model_key: str | None = None,
        robustness: bool | None = None,
        calibrations: Mapping[str, Calibration] | None = None,
    ) -> ImageVerdict:
        """Verdict for one image: the most-fake face decides; the whole image when no face.

        ``model_key="ensemble"`` combines the ensemble's members (decoding and face detection once,
        each member's crops through its own batcher). ``robustness`` (None: DEEPFAKE_ROBUSTNESS) also
        scores each crop's JPEG and rescale variants in the same pass. ``calibrations`` maps model keys
        to the calibration applied to their probability; ``calibrations["ensemble"]``, the combination's,
        is applied to the ensemble's combined probability when its basis is the members' (else a reason
        says it is not applied). Images larger than DEEPFAKE_WORK_MAX_SIDE are
        analysed reduced to it; width, height and face boxes are still in the original's pixels.
        """
        start = time.perf_counter()
        ensemble = model_key == ENSEMBLE_KEY
        specs = self.ensemble_members() if ensemble else [self.registry.get(model_key)]
        if not specs:
            raise ModelUnavailableError(ENSEMBLE_KEY, "(no member)", "no model's weights are available")
        self_test = self.settings.robustness if robustness is None else robustness
        calibrations = calibrations or {}
        image = load_image(
            source,
            max_pixels=self.settings.max_image_pixels,
            max_side=self.settings.work_max_side or None,
            decode_limit=self.settings.max_large_decodes,
        )
        prepared = prepare_image(image.rgb, detector=self.face_detector(), settings=self.settings)
        count = len(prepared.inputs)
        shown = [variants(crop) for crop in prepared.inputs] if self_test else []
        # Originals first, then each crop's variants: one batch per member.
        inputs = [*prepared.inputs, *(v for crop in shown for v in crop.values())]
        runs = []
        # Concurrent requests for each model share forward passes (DEEPFAKE_BATCH_WINDOW_MS).
        answers = _ask_together([self.batcher(spec.key) for spec in specs], inputs)
        for spec, answer in zip(specs, answers):
            probs = [float(p) for p in answer]
            [analysis] = fold_probabilities([prepared], probs[:count])
            analysis = boxes_to_original(analysis, scale=image.scale, width=image.width, height=image.height)
            stable = None
            if self_test:
                per_variant = {
                    name: max(round(probs[count + i * len(VARIANTS) + j], 6) for i in range(count))
                    for j, name in enumerate(VARIANTS)
                }
                stable = stability(analysis.fake_probability, per_variant)
            runs.append(_MemberRun(spec, analysis, stable, self.classifier(spec.key).backend))
        return self._image_verdict(
            runs, ensemble=ensemble, calibrations=calibrations, image=image, elapsed_ms=_elapsed_ms(start)
        )

    def _image_verdict(
        self,
        runs: list[_MemberRun],
        *,
        ensemble: bool,
        calibrations: Mapping[str, Calibration],
        image: Any,
        elapsed_ms: float,
    ) -> ImageVerdict:
        unstable = [run for run in runs if run.stability is not None and not run.stability.stable]
        keys = [run.spec.key for run in runs]
        combination, stale = self._combination_calibration(keys, calibrations) if ensemble else (None, None)
        combined = combine(
            [_member_result(run.spec, run.analysis.fake_probability, calibrations) for run in runs],
            self.settings.ensemble,
            robustness=unstable[0].stability if unstable else None,
            face_found=runs[0].analysis.face_found,
            calibration=combination,
        )
        reasons = list(combined.reasons)
        if stale:
            reasons.append(stale)
        if ensemble and unstable:
            # Name the model whose verdict moved; the other unstable members add their own reasons.
            first = unstable[0]
            assert first.stability is not None
            named = set(first.stability.reasons())
            reasons = [f"{r} ({first.spec.name})" if r in named else r for r in reasons]
            for run in unstable[1:]:
                assert run.stability is not None
                reasons.extend(f"{r} ({run.spec.name})" for r in run.stability.reasons())
        faces = runs[0].analysis.faces
        # Each face's own three-way verdict (band and disagreement; the self-test is the image's).
        per_face = [
            combine(
                [_member_result(run.spec, run.analysis.faces[i].fake_probability, calibrations) for run in runs],
                self.settings.ensemble,
                calibration=combination,
            )
            for i in range(len(faces))
        ]
        # A single model's answer is its own probability, calibrated when a calibration applies to it.
        calibrated = not ensemble and runs[0].spec.key in calibrations
        if ensemble or calibrated:
            # Each face reports its combined (for one model: calibrated) probability.
            faces = [replace(face) for face in faces]
            for face, face_verdict in zip(faces, per_face):
                face.fake_probability = round(face_verdict.fake_probability, 6)
                face.is_fake = face_verdict.is_fake
                face.confidence = face_verdict.confidence
        backends = {run.spec.key: run.backend for run in runs}
        members = [_member_answer(m, backends[m.key]) for m in combined.members]
        calibration = _calibrations_answer(calibrations, backends, combination)
        robustness = None
        if runs[0].stability is not None:
            robustness = {
                "stable": not unstable,
                "members": {run.spec.key: run.stability.to_dict() for run in runs if run.stability is not None},
            }
        if ensemble:
            p = combined.fake_probability
            key, name = ENSEMBLE_KEY, _ensemble_name(len(runs))
            backend = ", ".join(dict.fromkeys(backends.values()))
        else:
            raw = runs[0].analysis.fake_probability
            p = calibrations[runs[0].spec.key].apply(raw) if calibrated else raw
            key, name, backend = runs[0].spec.key, runs[0].spec.name, runs[0].backend
        return ImageVerdict(
            is_fake=p >= 0.5,
            confidence=confidence_of(p),
            fake_probability=round(p, 6),
            model_key=key,
            model_name=name,
            face_found=runs[0].analysis.face_found,
            faces=faces,
            width=image.width,
            height=image.height,
            processing_time_ms=elapsed_ms,
            backend=backend,
            verdict=combined.verdict,
            reasons=reasons,
            members=members,
            calibration=calibration,
            robustness=robustness,
            faces_summary=face_summary([v.verdict for v in per_face]),
        )

    def _combination_calibration(
        self, member_keys: list[str], calibrations: Mapping[str, Calibration]
    ) -> tuple[Calibration | None, str | None]:
        """The combination's calibration when it applies to these members, else None and why not (None: none given)."""
        found = calibrations.get(ENSEMBLE_KEY)
        if found is None:
            return None, None
        fitted = (found.basis or {}).get("members") or {}
        current = self.ensemble_basis(calibrations, members=member_keys)["members"]
        if fitted == current:
            return found, None
        if set(fitted) != set(current):
            what = "other members"
        elif any(fitted[key].get("calibration") != current[key]["calibration"] for key in current):
            what = "other member calibrations"
        else:
            what = "other member weights"
        return None, f"the ensemble's calibration was fitted with {what} and is not applied"

    # --- camera -------------------------------------------------------------------------
    def detect_camera_frame(
        self,
        source: ImageSource,
        *,
        session_key: str,
        model_key: str | None = None,
        store: SmoothingStore | None = None,
        robustness: bool | None = None,
        calibrations: Mapping[str, Calibration] | None = None,
    ) -> CameraVerdict:
        """Classify one live frame (``ensemble`` too) and smooth the verdict over the session's recent frames."""
        if not session_key:
            raise ValueError("session_key is required (and must include the user id)")
        frame = self.detect_image(source, model_key=model_key, robustness=robustness, calibrations=calibrations)
        store = store or self._camera_store
        key = f"{session_key}|{frame.model_key}"  # switching models starts a fresh window
        state = smooth(
            store.load(key),
            frame.fake_probability,
            window=self.settings.camera_window,
            hysteresis=self.settings.camera_hysteresis,
        )
        store.save(key, state, self.settings.camera_ttl_seconds)
        mean = state["mean"]
        is_fake = state["is_fake"]
        probabilities = state["probabilities"]
        return CameraVerdict(
            is_fake=is_fake,
            confidence=percent(mean if is_fake else 1.0 - mean),
            fake_probability=round(mean, 6),
            frame=frame,
            window_size=self.settings.camera_window,
            frames_in_window=len(probabilities),
            fake_votes=sum(p >= 0.5 for p in probabilities),
            model_key=frame.model_key,
            model_name=frame.model_name,
            backend=frame.backend,
        )

    # --- video --------------------------------------------------------------------------
    def video_prefetch(self) -> bool:
        """Whether video decoding and face detection run ahead in a background thread.

        Only when torch leaves a core free: on a machine whose cores all run torch's threads the
        background thread competes with them instead of overlapping (60 s 720p clip on 2 cores: 4.1 s
        with prefetching against 3.8 s without in bf16, 3.5 against 3.1 s in int8).
        """
        if self.settings.video_prefetch is not None:
            return self.settings.video_prefetch
        _ = self.placement  # applies DEEPFAKE_TORCH_THREADS first
        return torch.get_num_threads() < usable_cpus()

    def probe_video(self, path: str | os.PathLike[str]) -> VideoProbe:
        """Container, duration, frame rate and size of a video, and whether its first frame decodes.

        Reads packets and at most one frame (no model). Raises InvalidMediaError when the file is
        missing, empty, not a readable video, or its frames exceed DEEPFAKE_MAX_VIDEO_PIXELS.
        """
        try:
            with VideoReader(
                path, max_pixels=self.settings.max_video_pixels, max_side=self.settings.work_max_side
            ) as reader:
                decodes = next(iter(reader.frames_at([0.0])), None) is not None
                info = reader.info
                return VideoProbe(
                    format_names=reader.format_names,
                    duration=info.duration,
                    fps=info.fps,
                    width=info.width,
                    height=info.height,
                    first_frame_decodes=decodes,
                )
        except av.error.FFmpegError as exc:
            raise InvalidMediaError(f"The video could not be decoded ({type(exc).__name__}).") from None

    def detect_video(
        self,
        path: str | os.PathLike[str],
        *,
        model_key: str | None = None,
        calibrations: Mapping[str, Calibration] | None = None,
        progress: Callable[[int, int], None] | None = None,
        should_cancel: Callable[[], bool] | None = None,
    ) -> VideoVerdict:
        """Majority vote over frames sampled at DEEPFAKE_VIDEO_SAMPLE_FPS (default 1 per second).

        ``model_key="ensemble"`` combines the ensemble's members on every frame (each frame decoded and
        its faces detected once, every member's classifier on the same chunk of crops). Each frame gets a
        three-way verdict; the video its spans (``segments``), fake share, verdict and reasons.
        ``calibrations`` maps model keys to the calibration applied to their probabilities.
        """
        try:
            return self._detect_video(
                path,
                model_key=model_key,
                calibrations=calibrations or {},
                progress=progress,
                should_cancel=should_cancel,
            )
        except av.error.FFmpegError as exc:  # anything the reader did not already turn into a clear error
            raise InvalidMediaError(f"The video could not be decoded ({type(exc).__name__}).") from None
        finally:
            # The frames are freed only now, with _detect_video's locals; glibc would keep their pages.
            release_freed_memory()

    def _detect_video(
        self,
        path: str | os.PathLike[str],
        *,
        model_key: str | None,
        calibrations: Mapping[str, Calibration],
        progress: Callable[[int, int], None] | None,
        should_cancel: Callable[[], bool] | None,
    ) -> VideoVerdict:
        start = time.perf_counter()
        ensemble = model_key == ENSEMBLE_KEY
        specs = self.ensemble_members() if ensemble else [self.registry.get(model_key)]
        if not specs:
            raise ModelUnavailableError(ENSEMBLE_KEY, "(no member)", "no model's weights are available")
        keys = [spec.key for spec in specs]
        combination, stale = self._combination_calibration(keys, calibrations) if ensemble else (None, None)
        # The video's own chunks, each under the process's pass limit (no window: a chunk is a full batch).
        classifiers = [self.batcher(spec.key).alone for spec in specs]
        detector = self.face_detector()
        timeline: list[FrameResult] = []
        # Per member, its probability (calibrated when a calibration applies) and raw one on each frame.
        used: dict[str, list[float]] = {spec.key: [] for spec in specs}
        raw: dict[str, list[float]] = {spec.key: [] for spec in specs}
        thumbnail_source: tuple[float, np.ndarray] | None = None
        first_frame: np.ndarray | None = None
        with VideoReader(
            path, max_pixels=self.settings.max_video_pixels, max_side=self.settings.work_max_side
        ) as reader:
            targets = sample_times(
                reader.info.duration,
                sample_fps=self.settings.video_sample_fps,
                max_frames=self.settings.video_max_frames,
            )
            total = len(targets)
            if progress is not None:
                progress(0, total)
            done = 0
            # The model, progress and should_cancel stay on the caller's thread (callbacks may use its
            # DB session); decoding and face detection run there too, or ahead in a background thread.
            with frame_pipeline(
                reader.frames_at(targets),
                prefetch=self.video_prefetch(),
                depth=2 * VIDEO_CHUNK_FRAMES,
                prepare=lambda f: prepare_image(f.rgb, detector=detector, settings=self.settings),
            ) as prefetched:
                items = iter(prefetched)
                while True:
                    chunk = [item for _, item in zip(range(VIDEO_CHUNK_FRAMES), items)]
                    if not chunk:
                        break
                    if should_cancel is not None and should_cancel():
                        raise DetectionCancelled()
                    prepared = [prepared for _, prepared in chunk]
                    # Every member on the same crops, one after the other.
                    per_member = [classify_prepared(prepared, classifier=classifier) for classifier in classifiers]
                    for index, (sampled, _) in enumerate(chunk):
                        members = [
                            _member_result(spec, results[index].fake_probability, calibrations)
                            for spec, results in zip(specs, per_member)
                        ]
                        combined = combine(members, self.settings.ensemble, calibration=combination)
                        # A single model's frame is its own (calibrated) probability, unclipped, as before.
                        p = combined.fake_probability if ensemble else members[0].probability
                        for m in members:
                            used[m.key].append(m.probability)
                            raw[m.key].append(m.raw_probability)
                        timeline.append(
                            FrameResult(
                                time=sampled.time,
                                fake_probability=round(p, 6),
                                is_fake=p >= 0.5,
                                faces=len(per_member[0][index].faces),
                                verdict=combined.verdict,
                                members={m.key: round(m.probability, 6) for m in members} if ensemble else None,
                            )
                        )
                        if first_frame is None:
                            first_frame = sampled.rgb
                        if thumbnail_source is None or p > thumbnail_source[0]:
                            thumbnail_source = (p, sampled.rgb)
                    done = min(total, done + len(chunk))
                    if progress is not None:
                        progress(done, total)
            skipped = reader.skipped
            info = reader.info
        if not timeline:
            raise InvalidMediaError("The video has no decodable frame.")
        if progress is not None and done < total:
            progress(total, total)  # fewer frames than planned (stream ended early): report completion
        fake_frames = sum(f.is_fake for f in timeline)
        real_frames = len(timeline) - fake_frames
        mean = float(np.mean([f.fake_probability for f in timeline]))
        # Majority vote as documented; an exact tie falls back to the mean probability.
        is_fake = fake_frames > real_frames or (fake_frames == real_frames and mean >= 0.5)
        # A non-empty timeline set both.
        assert thumbnail_source is not None and first_frame is not None
        thumb = thumbnail_source[1] if is_fake else first_frame
        backends = {spec.key: self.classifier(spec.key).backend for spec in specs}
        trust = self._video_trust(
            specs,
            timeline,
            used=used,
            raw=raw,
            calibrations=calibrations,
            backends=backends,
            combination=combination,
            stale=stale,
        )
        if ensemble:
            key, name = ENSEMBLE_KEY, _ensemble_name(len(specs))
            backend = ", ".join(dict.fromkeys(backends.values()))
        else:
            key, name, backend = specs[0].key, specs[0].name, backends[specs[0].key]
        return VideoVerdict(
            is_fake=is_fake,
            confidence=percent(mean if is_fake else 1.0 - mean),
            fake_probability=round(mean, 6),
            fake_frames=fake_frames,
            real_frames=real_frames,
            frames_analyzed=len(timeline),
            frames_skipped=skipped,
            duration=info.duration,
            fps=info.fps,
            timeline=timeline,
            thumbnail_jpeg=_thumbnail_jpeg(thumb),
            model_key=key,
            model_name=name,
            processing_time_ms=_elapsed_ms(start),
            backend=backend,
            **trust,
        )

    def _video_trust(
        self,
        specs: list[ModelSpec],
        timeline: list[FrameResult],
        *,
        used: Mapping[str, list[float]],
        raw: Mapping[str, list[float]],
        calibrations: Mapping[str, Calibration],
        backends: Mapping[str, str],
        combination: Calibration | None,
        stale: str | None,
    ) -> dict[str, Any]:
        """The video's trust fields: segments and verdict of the frames, and each member over the whole video.

        ``combination``: the ensemble's calibration applied to each frame; ``stale``: why one was not applied.
        """
        summary = video_segments([f.time for f in timeline], [f.verdict or f.is_fake for f in timeline])
        verdict, reasons = summary.verdict, list(summary.reasons)
        # Each member's mean over the frames, combined once more: members that disagree over the whole
        # video make it uncertain, even when each frame alone looked decided.
        means = [
            MemberResult(
                spec.key,
                spec.name,
                float(np.mean(raw[spec.key])),
                float(np.mean(used[spec.key])) if spec.key in calibrations else None,
            )
            for spec in specs
        ]
        overall = combine(means, self.settings.ensemble)
        disagree = disagreement(overall, self.settings.ensemble)
        if disagree is not None:
            verdict, reasons = "uncertain", [disagree, *reasons]
        members = [
            _member_answer(m, backends[m.key], fake_frames=sum(p >= 0.5 for p in used[m.key])) for m in overall.members
        ]
        if stale:
            reasons.append(stale)
        return {
            "verdict": verdict,
            "reasons": reasons,
            "segments": [asdict(segment) for segment in summary.segments],
            "segments_text": summary.text(),
            "fake_share": round(summary.fake_share, 6),
            "members": members,
            "calibration": _calibrations_answer(calibrations, backends, combination),
        }


def _member_answer(member: MemberVerdict, backend: str, **more: Any) -> dict[str, Any]:
    """A member as answers report it: key, name, raw and calibrated probability, band, backend (and ``more``)."""
    calibrated = member.calibrated_probability
    answer = {
        "key": member.key,
        "name": member.name,
        "raw_probability": round(member.raw_probability, 6),
        "calibrated_probability": None if calibrated is None else round(calibrated, 6),
        **more,
        "band": member.band,
        "backend": backend,
    }
    return answer


def _calibrations_answer(
    calibrations: Mapping[str, Calibration], backends: Mapping[str, str], combination: Calibration | None
) -> dict[str, Any] | None:
    """The calibrations an answer applied, named per member and for the combination (None: raw scores)."""
    used = {key: c for key, c in calibrations.items() if key in backends}
    if not used and combination is None:
        return None
    named: dict[str, Any] = {"members": {key: _named(c) for key, c in used.items()}}
    if combination is not None:
        named["ensemble"] = _named(combination)
    return named


def _member_result(spec: ModelSpec, probability: float, calibrations: Mapping[str, Calibration]) -> MemberResult:
    """A member's raw probability and, when a calibration applies to it, its calibrated one."""
    found = calibrations.get(spec.key)
    return MemberResult(spec.key, spec.name, probability, None if found is None else found.apply(probability))


def _ensemble_name(count: int) -> str:
    """The ensemble's display name, e.g. "Ensemble (3 models)"."""
    return f"Ensemble ({count} model{'s' if count != 1 else ''})"
