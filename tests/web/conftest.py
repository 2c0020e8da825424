"""Browser test fixtures: a live server with tiny models, headless Chromium with a fake camera."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.support import media
from tests.support.ci import IN_CI
from tests.support.tiny_models import ensure_tiny_model_cache
from tests.web.helpers import MISSING_MODEL, SERVER_IMAGE_LIMIT, SERVER_VIDEO_LIMIT

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
SERVER_START_TIMEOUT = 120
# Two shared CPU cores and a first model load: give assertions room, they return as soon as they hold.
expect.set_options(timeout=20_000)


class LiveServer:
    """A running server process and its base URL."""

    def __init__(self, process: subprocess.Popen, port: int, root: Path):
        self.process = process
        self.url = f"http://127.0.0.1:{port}"
        self.root = root
        self.output: list[str] = []

    def drain(self) -> None:
        """Keep reading the server's output so its pipe never fills up (kept for failure reports)."""
        for line in self.process.stdout:
            self.output.append(line)


def start_live_server(root: Path, **settings: str):
    """Run the real app (create_app + migrations) on a free port, with temporary storage and tiny models.

    settings are extra environment variables (server settings); yields the LiveServer until the caller is done.
    """
    env = {
        **os.environ,
        "HF_HOME": str(ensure_tiny_model_cache()),
        "HF_HUB_OFFLINE": "1",
        "DEEPFAKE_TORCH_THREADS": "1",
        "DEEPFAKE_INSTANCE_PATH": str(root / "instance"),
        "DATABASE_URI": f"sqlite:///{root / 'app.db'}",
        "UPLOAD_FOLDER": str(root / "uploads"),
        "DEEPFAKE_EXTRA_MODELS": f"{MISSING_MODEL}=example-org/not-downloaded-detector",
        "RATELIMIT_LOGIN": "1000 per minute",
        "RATELIMIT_REGISTER": "1000 per minute",
        # Not the defaults, so the pages are seen to show the server's limits (test_web_pages.py).
        "MAX_IMAGE_SIZE": str(SERVER_IMAGE_LIMIT),
        "MAX_VIDEO_SIZE": str(SERVER_VIDEO_LIMIT),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")])),
        "OMP_NUM_THREADS": "1",
        **settings,
    }
    env.pop("DEEPFAKE_MODE", None)
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("live_server.py"))],
        env=env,
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    port = None
    timer = threading.Timer(SERVER_START_TIMEOUT, process.kill)
    timer.start()
    try:
        for line in process.stdout:
            lines.append(line)
            if line.startswith("LISTENING "):
                port = int(line.split()[1])
                break
    finally:
        timer.cancel()
    if port is None:
        process.kill()
        pytest.fail("The live server did not start:\n" + "".join(lines[-40:]))
    server = LiveServer(process, port, root)
    server.output = lines
    threading.Thread(target=server.drain, daemon=True).start()
    yield server
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    """The real app on a free port with the settings above (no camera frame retention configured)."""
    yield from start_live_server(tmp_path_factory.mktemp("live-server"))


@pytest.fixture(scope="session")
def fake_camera_file(tmp_path_factory) -> Path:
    """A looping .y4m clip of a face for Chromium's fake camera."""
    return media.write_y4m(tmp_path_factory.mktemp("camera") / "face.y4m", seconds=2, fps=5, size=(320, 240))


@pytest.fixture(scope="session")
def browser(fake_camera_file):
    """Debian's headless Chromium driven by Playwright, with the fake camera fed from a file."""
    if not Path(CHROMIUM).exists():
        message = f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)"
        if IN_CI:
            pytest.fail(message + " (CI=true: browser tests must run)", pytrace=False)
        pytest.skip(message)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--use-fake-device-for-media-stream",
                "--use-fake-ui-for-media-stream",
                f"--use-file-for-fake-video-capture={fake_camera_file}",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture()
def page(browser, live_server, request):
    """A fresh browser context (own localStorage) on the live server; console errors fail the test."""
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 1280, "height": 860}, reduced_motion="reduce"
    )
    context.set_default_timeout(20_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # The app's Content-Security-Policy must never block what the app itself does.
    page.on("console", lambda message: "Content Security Policy" in message.text and errors.append(message.text))
    yield page
    context.close()
    assert not errors, f"JavaScript or CSP errors in the page: {errors}"


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    """Where page screenshots are saved for people to look at."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
