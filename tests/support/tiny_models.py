"""Tiny, really trained detectors under the three real model ids, in a standard HF hub cache.

Each model is a few-thousand-parameter ViT or SigLIP (32x32 input) trained for a few seconds to
say FAKE for images carrying media.tint()'s magenta cast and REAL otherwise, on whole photos,
face crops (with the engine's CLAHE enhancement) and letterboxed video frames. Built once per
machine: the cache directory is keyed by a hash of this builder's source (and media.py's), and a
file lock lets pytest-xdist workers share one build.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from filelock import FileLock

from . import media

IMAGE_SIZE = 32
REVISION = "0000000000000000000000000000000000000001"  # a commit-hash-shaped snapshot name


@dataclass(frozen=True)
class TinySpec:
    """One tiny model: the real HF id it stands in for, its architecture and label order."""

    model_id: str
    arch: str  # "vit" or "siglip"
    id2label: dict


TINY_MODELS = (
    TinySpec("dima806/deepfake_vs_real_image_detection", "vit", {0: "Real", 1: "Fake"}),
    TinySpec("prithivMLmods/Deep-Fake-Detector-v2-Model", "vit", {0: "Realism", 1: "Deepfake"}),
    TinySpec("prithivMLmods/open-deepfake-detection", "siglip", {0: "Fake", 1: "Real"}),
)


def _source_hash() -> str:
    """Hash of everything the trained weights depend on: this builder and the media cue it learns."""
    import inspect

    here = Path(__file__).resolve()
    cue = inspect.getsource(media.tint) + inspect.getsource(media._fit)
    cue += repr((media.TINT_RGB.tolist(), media.TINT_STRENGTH))
    return hashlib.sha256(here.read_bytes() + cue.encode()).hexdigest()[:16]


def _cache_root() -> Path:
    return Path(tempfile.gettempdir()) / f"deepfake-tiny-models-{_source_hash()}"


# --- training data --------------------------------------------------------------------------


def _base_images() -> list[np.ndarray]:
    from skimage import data

    from deepfake_detection.engine.faces import FaceDetector, crop_face, enhance

    pictures = []
    for name in (
        "astronaut",
        "coffee",
        "chelsea",
        "rocket",
        "hubble_deep_field",
        "immunohistochemistry",
        "colorwheel",
        "camera",
        "coins",
        "moon",
        "horse",
        "clock",
        "page",
        "brick",
        "grass",
        "gravel",
        "text",
    ):
        img = getattr(data, name)()
        if img.dtype != np.uint8:
            img = (img.astype(np.float32) * (255.0 if img.max() <= 1 else 1.0)).clip(0, 255).astype(np.uint8)
        if img.ndim == 2:
            img = np.stack([img] * 3, axis=-1)
        pictures.append(np.ascontiguousarray(img[:, :, :3]))
    astronaut = pictures[0]
    detector = FaceDetector(min_score=0.5)
    [box] = detector.detect(astronaut)[:1]
    for margin in (0.1, 0.25, 0.4):
        crop = crop_face(astronaut, box, margin=margin)
        pictures += [crop, enhance(crop)]
    pictures.append(media._fit(astronaut, (1280, 720)))
    pictures.append(media._fit(astronaut, (320, 240)))
    rng = np.random.default_rng(3)
    pictures.append(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    pictures.append(np.tile(np.linspace(0, 255, 64, dtype=np.uint8)[None, :, None], (64, 1, 3)))
    return pictures


def _augment(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    import cv2

    h, w = img.shape[:2]
    scale = rng.uniform(0.3, 1.0)
    ch, cw = max(8, int(h * scale)), max(8, int(w * scale * rng.uniform(0.75, 1.33)))
    ch, cw = min(ch, h), min(cw, w)
    y, x = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
    out = img[y : y + ch, x : x + cw]
    if rng.random() < 0.5:
        out = out[:, ::-1]
    out = cv2.resize(np.ascontiguousarray(out), (IMAGE_SIZE, IMAGE_SIZE), interpolation=cv2.INTER_AREA)
    gain, bias = rng.uniform(0.7, 1.3), rng.uniform(-25, 25)
    return np.clip(out.astype(np.float32) * gain + bias, 0, 255).astype(np.uint8)


def _dataset(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """count 32x32 images, half tinted (label 1 = fake), tint applied before or after the crop."""
    from deepfake_detection.engine.faces import enhance

    rng = np.random.default_rng(seed)
    bases = _base_images()
    images, labels = [], []
    for i in range(count):
        fake = i % 2 == 1
        img = bases[rng.integers(0, len(bases))]
        if fake:
            img = media.tint(img, strength=rng.uniform(0.3, 0.6))
        out = _augment(img, rng)
        if rng.random() < 0.4:
            out = enhance(out)
        images.append(out)
        labels.append(1 if fake else 0)
    return np.stack(images), np.array(labels)


# --- models ---------------------------------------------------------------------------------


def _new_model(spec: TinySpec):
    from transformers import (
        SiglipConfig,
        SiglipForImageClassification,
        SiglipImageProcessor,
        ViTConfig,
        ViTForImageClassification,
        ViTImageProcessor,
    )

    label2id = {v: k for k, v in spec.id2label.items()}
    size = {"height": IMAGE_SIZE, "width": IMAGE_SIZE}
    if spec.arch == "vit":
        config = ViTConfig(
            image_size=IMAGE_SIZE,
            patch_size=8,
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            id2label=spec.id2label,
            label2id=label2id,
        )
        return ViTForImageClassification(config), ViTImageProcessor(size=size)
    config = SiglipConfig(
        vision_config=dict(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            image_size=IMAGE_SIZE,
            patch_size=8,
        ),
        text_config=dict(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=1,
            num_attention_heads=2,
            vocab_size=64,
            bos_token_id=1,
            eos_token_id=2,
            pad_token_id=0,
        ),
        id2label=spec.id2label,
        label2id=label2id,
    )
    return SiglipForImageClassification(config), SiglipImageProcessor(size=size)


def _train(spec: TinySpec, images: np.ndarray, labels: np.ndarray, *, steps: int = 300):
    import torch

    torch.manual_seed(TINY_MODELS.index(spec))  # distinct weights per model
    model, processor = _new_model(spec)
    x, y = _tensors(processor, spec, images, labels)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(0)
    model.train()
    for _ in range(steps):
        batch = torch.randint(0, len(x), (64,), generator=generator)
        loss = torch.nn.functional.cross_entropy(model(pixel_values=x[batch]).logits, y[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    return model, processor


def _accuracy(model, x, y) -> float:
    import torch

    with torch.inference_mode():
        return float((model(pixel_values=x).logits.argmax(-1) == y).float().mean())


def hub_snapshot_dir(hub: Path, model_id: str, revision: str = REVISION) -> Path:
    """Where the hub cache keeps model_id at revision (models--org--name/snapshots/<rev>)."""
    return hub / ("models--" + model_id.replace("/", "--")) / "snapshots" / revision


def save_hub_snapshot(hub: Path, model_id: str, model, processor, revision: str = REVISION) -> Path:
    """Save a model and its processor in the standard hub cache layout, as `main`."""
    snapshot = hub_snapshot_dir(hub, model_id, revision)
    snapshot.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(snapshot)
    processor.save_pretrained(snapshot)
    refs = snapshot.parent.parent / "refs"
    refs.mkdir(exist_ok=True)
    (refs / "main").write_text(revision)
    return snapshot


def _build(root: Path) -> None:
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # deterministic, and kind to the other test workers
    try:
        images, labels = _dataset(3000, seed=1)
        test_images, test_labels = _dataset(400, seed=2)
        hub = root / "hub"
        report = {}
        for spec in TINY_MODELS:
            model, processor = _train(spec, images, labels)
            tx, ty = _tensors(processor, spec, test_images, test_labels)
            accuracy = _accuracy(model, tx, ty)
            if accuracy < 0.95:
                raise RuntimeError(f"tiny model {spec.model_id} only reached {accuracy:.2%} held-out accuracy")
            report[spec.model_id] = round(accuracy, 4)
            save_hub_snapshot(hub, spec.model_id, model, processor)
        (root / "accuracy.json").write_text(json.dumps(report, indent=2))
    finally:
        torch.set_num_threads(threads)


def _tensors(processor, spec: TinySpec, images: np.ndarray, labels: np.ndarray):
    import torch

    mean = torch.tensor(processor.image_mean).view(1, 3, 1, 1)
    std = torch.tensor(processor.image_std).view(1, 3, 1, 1)
    x = (torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0 - mean) / std
    fake_index = next(k for k, v in spec.id2label.items() if v in ("Fake", "Deepfake"))
    y = torch.from_numpy(np.where(labels == 1, fake_index, 1 - fake_index)).long()
    return x, y


def ensure_tiny_model_cache() -> Path:
    """HF_HOME-style directory whose hub/ holds the three tiny models; built once per machine."""
    root = _cache_root()
    ready = root / "READY"
    if ready.exists():
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root) + ".lock"):
        if ready.exists():
            return root
        building = root.with_name(root.name + ".building")
        shutil.rmtree(building, ignore_errors=True)
        building.mkdir(parents=True)
        _build(building)
        (building / "READY").write_text("ok\n")
        shutil.rmtree(root, ignore_errors=True)
        building.rename(root)
    return root


def tiny_snapshot(model_id: str) -> Path:
    """The snapshot directory of one tiny model (builds the cache if needed)."""
    return hub_snapshot_dir(ensure_tiny_model_cache() / "hub", model_id)


def build_local_model(
    target: str | Path, *, id2label: dict | None = None, source_model_id: str = TINY_MODELS[0].model_id
) -> Path:
    """A local model directory (as an operator would add one): a trained tiny model, relabelled.

    The source model's labels are renamed position by position with id2label, so the meaning is
    kept when the new names are recognisable (e.g. {0: "authentic", 1: "synthetic"}) and lost
    when they are not (e.g. {0: "LABEL_0", 1: "LABEL_1"}, for the unmappable-labels test).
    """
    target = Path(target)
    shutil.copytree(tiny_snapshot(source_model_id), target, dirs_exist_ok=True)
    config_path = target / "config.json"
    config = json.loads(config_path.read_text())
    labels = id2label or {0: "authentic", 1: "synthetic"}
    config["id2label"] = {str(k): v for k, v in labels.items()}
    config["label2id"] = {v: int(k) for k, v in labels.items()}
    config_path.write_text(json.dumps(config, indent=2))
    return target


def unmappable_local_model(target: str | Path) -> Path:
    """A local model directory whose labels (LABEL_0/LABEL_1) cannot be mapped to fake/real."""
    return build_local_model(target, id2label={0: "LABEL_0", 1: "LABEL_1"})
