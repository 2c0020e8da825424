"""Optional tiny models that disagree: each is trained on its own visible cue, as local model directories.

tiny_models.py's three models all learn the same magenta cast, so they always agree. These three
(same tiny ViT, same 32x32 input, labels Real/Fake) each learn one cue from media.py and call
everything else REAL, including images carrying the other cues:

- ``magenta``: media.magenta_tint() (the cast tiny_models' models learn too);
- ``green``: media.green_tint();
- ``pattern``: media.fine_pattern(), a one-pixel chroma checkerboard applied at the model's input
  size; JPEG re-compression at quality 70 or a half-size down/up scale erases it, so this member is
  the fragile one the robustness self-test catches.

Kept out of tiny_models.py so that its cache key (a hash of that file) and its three models stay as they
are. Built on demand (only tests that ask for them pay), once per machine: keyed by a hash of this file,
tiny_models.py and the media cues, shared between pytest-xdist workers through a file lock.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
from filelock import FileLock

from . import media, tiny_models
from .tiny_models import TinySpec

CUES = ("magenta", "green", "pattern")
_TINTS = {"magenta": media.magenta_tint, "green": media.green_tint}
_SPEC = TinySpec("cue-model", "vit", {0: "Real", 1: "Fake"})
# Training steps per cue: the green cast needs more (grass and other green photos are REAL); 300 left it at 94%.
_STEPS = {"magenta": 600, "green": 600, "pattern": 300}


def _source_hash() -> str:
    """Hash of everything the cue models' weights depend on."""
    parts = [Path(__file__).resolve().read_bytes(), Path(tiny_models.__file__).resolve().read_bytes()]
    for fn in (media.tint, media.magenta_tint, media.green_tint, media.fine_pattern, media._fit):
        parts.append(inspect.getsource(fn).encode())
    constants = (media.TINT_RGB, media.TINT_STRENGTH, media.GREEN_RGB, media.GREEN_STRENGTH)
    constants += (media.PATTERN_STEP, media.PATTERN_AMPLITUDE)
    parts.append(repr([np.asarray(c).tolist() for c in constants]).encode())
    return hashlib.sha256(b"".join(parts)).hexdigest()[:16]


def _cache_root() -> Path:
    return Path(tempfile.gettempdir()) / f"deepfake-cue-models-{_source_hash()}"


def _dataset(count: int, seed: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """count 32x32 images; a tint (none, magenta or green) and, independently, the fine pattern.

    Returns the images and, per cue, the labels (1 = the cue is present = fake for that cue's model).
    """
    from deepfake_detection.engine.faces import enhance

    rng = np.random.default_rng(seed)
    bases = tiny_models._base_images()
    images = []
    labels: dict[str, list[int]] = {cue: [] for cue in CUES}
    for i in range(count):
        tint = ("none", "magenta", "green")[i % 3]
        pattern = rng.random() < 0.5
        img = bases[rng.integers(0, len(bases))]
        if tint != "none":
            img = _TINTS[tint](img, strength=rng.uniform(0.3, 0.6))
        out = tiny_models._augment(img, rng)
        if rng.random() < 0.4:
            out = enhance(out)
        if pattern:
            # At the input size: any later resize would average the checkerboard away.
            out = media.fine_pattern(out, amplitude=rng.uniform(30.0, 50.0))
        images.append(out)
        labels["magenta"].append(int(tint == "magenta"))
        labels["green"].append(int(tint == "green"))
        labels["pattern"].append(int(pattern))
    return np.stack(images), {cue: np.array(v) for cue, v in labels.items()}


def _train(cue_index: int, images: np.ndarray, labels: np.ndarray, *, steps: int):
    import torch

    torch.manual_seed(100 + cue_index)
    model, processor = tiny_models._new_model(_SPEC)
    x, y = tiny_models._tensors(processor, _SPEC, images, labels)
    # The cue is present in a third (tints) or half (pattern) of the images: weight the classes evenly.
    counts = torch.bincount(y, minlength=2).float()
    weight = counts.sum() / (2.0 * counts)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(0)
    model.train()
    for _ in range(steps):
        batch = torch.randint(0, len(x), (64,), generator=generator)
        loss = torch.nn.functional.cross_entropy(model(pixel_values=x[batch]).logits, y[batch], weight=weight)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    return model, processor


def _build(root: Path) -> None:
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # deterministic, and kind to the other test workers
    try:
        images, labels = _dataset(3000, seed=11)
        test_images, test_labels = _dataset(600, seed=12)
        report = {}
        for index, cue in enumerate(CUES):
            model, processor = _train(index, images, labels[cue], steps=_STEPS[cue])
            tx, ty = tiny_models._tensors(processor, _SPEC, test_images, test_labels[cue])
            accuracy = tiny_models._accuracy(model, tx, ty)
            if accuracy < 0.95:
                raise RuntimeError(f"cue model {cue!r} only reached {accuracy:.2%} held-out accuracy")
            report[cue] = round(accuracy, 4)
            target = root / "models" / cue
            model.save_pretrained(target)
            processor.save_pretrained(target)
        (root / "accuracy.json").write_text(json.dumps(report, indent=2))
    finally:
        torch.set_num_threads(threads)


def ensure_cue_models() -> dict[str, Path]:
    """The local model directory of each cue model ({cue: path}); built once per machine."""
    root = _cache_root()
    ready = root / "READY"
    if not ready.exists():
        root.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(root) + ".lock"):
            if not ready.exists():
                building = root.with_name(root.name + ".building")
                shutil.rmtree(building, ignore_errors=True)
                building.mkdir(parents=True)
                _build(building)
                (building / "READY").write_text("ok\n")
                shutil.rmtree(root, ignore_errors=True)
                building.rename(root)
    return {cue: root / "models" / cue for cue in CUES}


def extra_models_setting(prefix: str = "cue-") -> str:
    """A DEEPFAKE_EXTRA_MODELS value registering the cue models as cue-magenta, cue-green and cue-pattern."""
    items = [
        {"key": f"{prefix}{cue}", "model_id": str(path), "name": f"Cue {cue.capitalize()}"}
        for cue, path in ensure_cue_models().items()
    ]
    return json.dumps(items)
