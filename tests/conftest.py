"""Root test configuration: point HuggingFace at the tiny trained test models, offline, hub unreachable.

The environment is set at import time, before anything imports transformers or huggingface_hub
(both read HF_HOME once, on import). Child processes (servers, Celery workers) inherit it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from tests.support.cue_models import ensure_cue_models, extra_models_setting  # noqa: E402
from tests.support.tiny_models import _cache_root, ensure_tiny_model_cache  # noqa: E402

os.environ["HF_HOME"] = str(_cache_root())
os.environ.pop("HF_HUB_CACHE", None)
os.environ.pop("DEEPFAKE_MODEL_CACHE", None)
os.environ["HF_HUB_OFFLINE"] = "1"
# Even a test that turns offline mode off reaches nothing but a local port where no one listens.
os.environ["HF_ENDPOINT"] = "http://127.0.0.1:9"
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("DEEPFAKE_TORCH_THREADS", "1")  # two cores shared by parallel workers
# The suite's expectations were written against PyTorch; tests/engine/test_backends.py covers the fast
# backends (and the auto chain) with settings of its own.
os.environ.setdefault("DEEPFAKE_BACKEND", "pytorch")

import pytest  # noqa: E402


def pytest_configure(config):
    """Build (once per machine) or reuse the tiny model caches before any test runs (no test timeout applies here)."""
    ensure_tiny_model_cache()
    ensure_cue_models()


@pytest.fixture(scope="session")
def tiny_hf_home() -> Path:
    """HF_HOME directory holding the tiny models under the three real model ids."""
    return ensure_tiny_model_cache()


@pytest.fixture(scope="session")
def cue_extra_models() -> str:
    """DEEPFAKE_EXTRA_MODELS registering the cue-trained models: cue-magenta, cue-green, cue-pattern."""
    return extra_models_setting()


@pytest.fixture(scope="session")
def engine(tiny_hf_home):
    """One DetectionEngine for the session, configured from the test environment."""
    from deepfake_detection.engine import DetectionEngine, EngineSettings

    return DetectionEngine(EngineSettings.from_env())
