"""The `deepfake` command line: scan, models, download-models."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner
from PIL import Image

from deepfake_detection.engine.calibration import Calibration
from deepfake_detection.engine.cli import main
from tests.support import media
from tests.support.labelled import write_labelled_folders

TINY_KEYS = ("dima806", "deep-fake-v2", "open-deepfake")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("scan")
    media.face_photo(False).save(root / "real.jpg")
    (root / "nested").mkdir()
    media.no_face_image(True).save(root / "nested" / "fake.png")
    media.write_video(root / "clip.mp4", seconds=2, fps=10, fake=False)
    (root / "notes.txt").write_text("ignored: not media")
    return root


def run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_scan_folder_json(folder):
    result = run("scan", str(folder), "--format", "json")
    assert result.exit_code == 1, "a fake file means exit code 1"
    rows = {os.path.basename(r["path"]): r for r in json.loads(result.stdout)}
    assert set(rows) == {"real.jpg", "fake.png", "clip.mp4"}
    assert rows["real.jpg"]["verdict"] == "REAL" and rows["real.jpg"]["faces_or_frames"] == 1
    assert rows["fake.png"]["verdict"] == "FAKE"
    assert rows["clip.mp4"]["type"] == "video" and rows["clip.mp4"]["faces_or_frames"] == 2
    assert rows["clip.mp4"]["result"]["frames_analyzed"] == 2


def test_scan_all_real_table_exit_zero(folder):
    result = run("scan", str(folder / "real.jpg"), str(folder / "clip.mp4"), "--model", "open-deepfake")
    assert result.exit_code == 0
    table, details = result.stdout.strip().split("\n\n")
    lines = table.splitlines()
    assert lines[0].split()[:3] == ["PATH", "TYPE", "VERDICT"] and lines[0].split()[-1] == "ASSESSMENT"
    assert all("REAL" in line and "open-deepfake" in line and line.endswith("real") for line in lines[1:])
    # Below the table, each file's three-way verdict with its reasons, then each model's score.
    assert f"{folder / 'real.jpg'}: real - the score is" in details
    assert "\n  Open Deepfake Detection (open-deepfake): 1% fake, likely real\n" in details
    assert details.endswith(
        "  segments: real 0-1 s\n  Open Deepfake Detection (open-deepfake): 1% fake, likely real, 0 fake frames"
    )


def test_scan_csv_with_an_error_exits_two(folder, tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(media.truncated_jpeg())
    result = run("scan", str(folder / "real.jpg"), str(broken), "--format", "csv")
    assert result.exit_code == 2
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["verdict"] for r in rows] == ["REAL", "ERROR"]
    assert "truncated or corrupt" in rows[1]["error"]


@pytest.fixture
def cue_members(monkeypatch, tiny_hf_home, cue_extra_models):
    """The CLI's engine (configured from the environment) with the cue models; members set by the test."""
    monkeypatch.setenv("DEEPFAKE_EXTRA_MODELS", cue_extra_models)
    return lambda members: monkeypatch.setenv("DEEPFAKE_ENSEMBLE_MEMBERS", members)


def test_scan_an_image_with_the_ensemble_prints_the_verdict_reasons_and_members(cue_members, tmp_path):
    cue_members("cue-magenta,cue-green")
    path = tmp_path / "green.png"
    Image.fromarray(media.green_tint(media.small_face())).save(path)
    result = run("scan", str(path), "--model", "ensemble")
    assert result.exit_code in (0, 1)  # is_fake as documented; the assessment is what this test is about
    table, details = result.stdout.strip().split("\n\n")
    assert table.splitlines()[1].split()[-1] == "uncertain" and "ensemble" in table
    lines = details.splitlines()
    # Whether the combined score also lands in the uncertain band (a reason listed first) depends on the
    # CPU's int8 kernels (it did on an AMX Xeon, not on an AVX-512 EPYC); the disagreement is always there.
    assert lines[0].startswith(f"{path}: uncertain - ")
    assert "models disagree: Cue Green 99% fake, Cue Magenta" in lines[0]
    assert lines[1].startswith("  Cue Magenta (cue-magenta): ") and lines[1].endswith("likely real")
    assert lines[2].startswith("  Cue Green (cue-green): 99") and lines[2].endswith("likely fake")


def test_scan_a_video_with_the_ensemble_in_json(cue_members, tmp_path):
    cue_members("cue-magenta,dima806")
    path = media.write_cue_video(tmp_path / "clip.mp4", cues=["magenta"] * 3 + [None], fps=5)
    result = run("scan", str(path), "--model", "ensemble", "--format", "json")
    assert result.exit_code == 1
    [row] = json.loads(result.stdout)
    assert row["verdict"] == "FAKE" and row["model"] == "ensemble" and row["assessment"] == "fake"
    assert row["reasons"] == ["3 of 4 frames judged fake"]
    assert [(m["key"], m["fake_frames"]) for m in row["members"]] == [("cue-magenta", 3), ("dima806", 3)]
    assert row["result"]["segments_text"].startswith("fake 0-") and row["result"]["fake_share"] == 0.75
    table = run("scan", str(path), "--model", "ensemble").stdout
    assert "  segments: fake 0-" in table and "  Cue Magenta (cue-magenta): " in table and "3 fake frames" in table


def test_scan_unknown_model_and_empty_folder(tmp_path):
    result = CliRunner().invoke(main, ["scan", str(tmp_path), "--model", "nope"])
    assert result.exit_code == 2 and "Unknown model 'nope'" in result.output
    result = CliRunner().invoke(main, ["scan", str(tmp_path)])
    assert result.exit_code == 2 and "No image or video files found" in result.output


def test_models_lists_cache_status(monkeypatch):
    monkeypatch.setenv("DEEPFAKE_EXTRA_MODELS", "ghost=nobody/not-downloaded")
    result = run("models", "--format", "json")
    rows = {r["key"]: r for r in json.loads(result.stdout)}
    assert rows["dima806"]["cached"] is True and rows["dima806"]["is_default"] is True
    assert rows["ghost"]["cached"] is False
    table = run("models").stdout
    assert "dima806 (default)" in table and "ghost" in table


def test_download_models_offline_says_what_is_missing(monkeypatch):
    monkeypatch.setenv("DEEPFAKE_EXTRA_MODELS", "ghost=nobody/not-downloaded")
    ok = CliRunner().invoke(main, ["download-models", "--model", "dima806"])
    assert ok.exit_code == 0 and "already cached" in ok.output
    missing = CliRunner().invoke(main, ["download-models", "--model", "ghost"])
    assert missing.exit_code == 2 and "NOT cached" in missing.output


def test_download_models_reports_network_failure(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens: fails fast
    monkeypatch.setenv("DEEPFAKE_EXTRA_MODELS", "ghost=nobody/not-downloaded")
    result = CliRunner().invoke(main, ["download-models", "--model", "ghost"])
    assert result.exit_code == 2 and "download failed" in result.output


def test_console_script_entry_point(folder):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "deepfake_detection.engine.cli",
            "scan",
            str(folder / "nested" / "fake.png"),
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ.copy(),
    )
    assert proc.returncode == 1, proc.stderr
    assert json.loads(proc.stdout)[0]["verdict"] == "FAKE"


def test_calibrate_fits_on_labelled_folders_and_writes_the_calibration(tmp_path):
    real, fake = write_labelled_folders(tmp_path, 22)
    out = tmp_path / "calibration.json"
    result = run("calibrate", str(real), str(fake), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "dima806: platt calibration from 22 real and 22 fake examples: Brier score" in result.output
    stored = json.loads(out.read_text())
    assert stored["model_key"] == "dima806"
    assert Calibration.from_dict(stored["calibration"]).n_real == 22


def test_calibrate_fits_the_ensemble_s_combination_over_raw_member_scores(tmp_path):
    real, fake = write_labelled_folders(tmp_path, 22)
    out = tmp_path / "ensemble.json"
    result = run("calibrate", str(real), str(fake), "--model", "ensemble", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "ensemble: platt calibration from 22 real and 22 fake examples" in result.output
    stored = json.loads(out.read_text())
    basis = Calibration.from_dict(stored["calibration"]).basis
    assert stored["model_key"] == "ensemble"
    assert basis == {"members": {key: {"calibration": None, "weight": 1.0} for key in TINY_KEYS}}


def test_calibrate_refuses_too_few_examples_with_the_reason(tmp_path):
    real, fake = write_labelled_folders(tmp_path, 3)
    result = CliRunner().invoke(main, ["calibrate", str(real), str(fake)])
    assert result.exit_code == 1
    assert "too few examples (3 real, 3 fake)" in result.output
