"""`deepfake` command line: scan files or folders, list models, download models ahead of time."""

from __future__ import annotations

import csv
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import click
from huggingface_hub import HfApi, snapshot_download
from tqdm import tqdm

from .calibration_fit import fit_calibration
from .engine import DetectionEngine
from .ensemble import pct
from .errors import EngineError
from .labelled import calibration_summary, score_labelled_folders
from .registry import ENSEMBLE_KEY
from .settings import EngineSettings

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
VIDEO_SUFFIXES = {".mp4", ".mov", ".m4v", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".3gp", ".h264", ".y4m"}
# `verdict` is the documented FAKE/REAL (is_fake); `assessment` the three-way fake/uncertain/real with its reasons.
CSV_COLUMNS = [
    "path", "type", "verdict", "confidence", "fake_probability", "faces_or_frames", "model", "error", "assessment",
]  # fmt: skip

EXIT_REAL, EXIT_FAKE, EXIT_ERROR = 0, 1, 2


def _engine() -> DetectionEngine:
    return DetectionEngine(EngineSettings.from_env())


def _collect(paths: tuple[Path, ...]) -> list[Path]:
    """Explicit files as given; folders walked recursively for known image/video suffixes."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES
            )
        else:
            files.append(path)
    return files


def _scan_one(engine: DetectionEngine, path: Path, model_key: str | None) -> dict[str, Any]:
    kind = "video" if path.suffix.lower() in VIDEO_SUFFIXES else "image"
    row = {"path": str(path), "type": kind}
    try:
        verdict = (
            engine.detect_video(path, model_key=model_key)
            if kind == "video"
            else engine.detect_image(path, model_key=model_key)
        )
    except EngineError as exc:
        return {**row, "verdict": "ERROR", "error": exc.message}
    result = verdict.to_dict()
    count = result["frames_analyzed"] if kind == "video" else len(result["faces"])
    return {
        **row,
        "verdict": "FAKE" if verdict.is_fake else "REAL",
        "confidence": verdict.confidence,
        "fake_probability": verdict.fake_probability,
        "faces_or_frames": count,
        "model": verdict.model_key,
        "error": "",
        "assessment": result["verdict"],
        "reasons": result["reasons"],
        "members": result["members"],
        "result": result,
    }


def _details(row: dict[str, Any]) -> list[str]:
    """A scanned file's three-way verdict, its reasons, its segments (video) and each model's score, as lines."""
    if row["verdict"] == "ERROR":
        return [f"{row['path']}: error: {row['error']}"]
    lines = [f"{row['path']}: {row['assessment']} - {'; '.join(row['reasons'])}"]
    segments = row["result"].get("segments_text")
    if segments:
        lines.append(f"  segments: {segments}")
    for member in row["members"]:
        score = f"{pct(member['raw_probability'])} fake"
        if member["calibrated_probability"] is not None:
            score = f"{pct(member['calibrated_probability'])} fake calibrated (raw {score})"
        frames = f", {member['fake_frames']} fake frames" if "fake_frames" in member else ""
        lines.append(f"  {member['name']} ({member['key']}): {score}, {member['band']}{frames}")
    return lines


def _print_table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    cells = [[str(row.get(c, "")) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    click.echo("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths)).rstrip())
    for r in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip())


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Deepfake detection for images and videos with HuggingFace detectors."""


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--model", "model_key", default=None, help="Model key (see `deepfake models`), or `ensemble` for every member."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
    help="Output format.",
)
def scan(paths: tuple[Path, ...], model_key: str | None, fmt: str) -> None:
    """Scan image/video files or folders. Exit code: 0 all real, 1 any fake, 2 any error."""
    engine = _engine()
    try:
        if model_key == ENSEMBLE_KEY:
            engine.ensemble_members()  # unknown member keys in DEEPFAKE_ENSEMBLE_MEMBERS
        else:
            engine.model(model_key)
    except EngineError as exc:
        raise click.UsageError(exc.message) from None
    files = _collect(paths)
    if not files:
        click.echo("No image or video files found.", err=True)
        sys.exit(EXIT_ERROR)
    rows = []
    for path in tqdm(files, desc="Scanning", unit="file", file=sys.stderr, disable=None):
        try:
            rows.append(_scan_one(engine, path, model_key))
        except EngineError as exc:  # e.g. the model itself is unavailable: same for every file
            click.echo(f"Error: {exc.message}", err=True)
            sys.exit(EXIT_ERROR)
    if fmt == "json":
        click.echo(json.dumps([{k: v for k, v in r.items()} for r in rows], indent=2))
    elif fmt == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=CSV_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    else:
        _print_table(rows, CSV_COLUMNS)
        click.echo()
        for row in rows:
            for line in _details(row):
                click.echo(line)
    verdicts = {r["verdict"] for r in rows}
    sys.exit(EXIT_ERROR if "ERROR" in verdicts else EXIT_FAKE if "FAKE" in verdicts else EXIT_REAL)


@main.command()
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def models(fmt: str) -> None:
    """List the models, the default one, whether each is cached, and the backend prepared for it."""
    engine = _engine()
    rows = [
        {**m.to_dict(), "cached": engine.is_cached(m.key), "backend": engine.backend_status(m.key)}
        for m in engine.models()
    ]
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    table = [
        {
            "key": r["key"] + (" (default)" if r["is_default"] else ""),
            "cached": "yes" if r["cached"] else "no",
            "backend": _backend_cell(r["backend"]),
            "gap": "" if r["backend"]["max_gap"] is None else f"{r['backend']['max_gap']:.4f}",
            "name": r["name"],
            "model_id": r["model_id"],
        }
        for r in rows
    ]
    _print_table(table, ["key", "cached", "backend", "gap", "name", "model_id"])
    click.echo(f"\nCache: {engine.settings.cache_dir}\nPrepared models: {engine.settings.prepared_cache}")


def _backend_cell(status: dict[str, Any]) -> str:
    """'onnxruntime/int8-static', with '(not prepared)' when a fast backend still has to be prepared."""
    return str(status["backend"]) + (" (not prepared)" if status.get("prepared") is False else "")


def _prepare(engine: DetectionEngine, key: str) -> bool:
    """Load the model with this machine's backend chain (exporting, quantizing and self-checking it once)."""
    try:
        classifier = engine.classifier(key)
    except EngineError as exc:
        click.echo(f"{key}: could not be prepared: {exc.message}", err=True)
        return False
    check = classifier.agreement
    gap = "" if check is None else f", self-check gap {check['max_gap']:.4f} against fp32"
    click.echo(f"{key}: ready, runs on {classifier.backend}{gap}")
    return True


def _allow_patterns(repo_id: str, revision: str | None) -> list[str]:
    """Config, processor and weights only; .bin weights only when the repo has no safetensors."""
    files = HfApi().list_repo_files(repo_id, revision=revision)
    weights = ["*.safetensors"] if any(f.endswith(".safetensors") for f in files) else ["*.bin"]
    return ["*.json", "*.txt", *weights]


@main.command("download-models")
@click.option("--model", "model_key", default=None, help="Only this model (default: all).")
def download_models(model_key: str | None) -> None:
    """Fetch models into the HuggingFace cache ahead of time and prepare this machine's fast backend for them."""
    engine = _engine()
    try:
        specs = [engine.model(model_key)] if model_key else engine.models()
    except EngineError as exc:
        raise click.UsageError(exc.message) from None
    failed = False
    for spec in specs:
        if spec.local_path is not None:
            click.echo(f"{spec.key}: local directory {spec.model_id}, nothing to download.")
            failed = not _prepare(engine, spec.key) or failed
            continue
        if engine.settings.offline:
            cached = engine.is_cached(spec.key)
            state = "already cached" if cached else "NOT cached"
            click.echo(f"{spec.key}: {state}; cannot download while HF_HUB_OFFLINE is set.", err=True)
            failed = failed or not cached
            if cached:
                failed = not _prepare(engine, spec.key) or failed
            continue
        click.echo(f"{spec.key}: downloading {spec.model_id} into {engine.settings.cache_dir}")
        try:
            snapshot_download(
                spec.model_id,
                revision=spec.revision,
                cache_dir=engine.settings.cache_dir,
                allow_patterns=_allow_patterns(spec.model_id, spec.revision),
            )
        except Exception as exc:  # network, auth, missing repo: report and carry on with the others
            click.echo(f"{spec.key}: download failed: {str(exc).splitlines()[0] if str(exc) else exc!r}", err=True)
            failed = True
            continue
        if not engine.is_cached(spec.key):
            click.echo(f"{spec.key}: incomplete")
            failed = True
            continue
        failed = not _prepare(engine, spec.key) or failed
    sys.exit(EXIT_ERROR if failed else 0)


if __name__ == "__main__":  # pragma: no cover
    main()


@main.command()
@click.argument("real_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("fake_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--model", "model_key", default=None, help="Model key (default: the default model); `ensemble`: its combination."
)
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write the calibration here (JSON)."
)
def calibrate(real_dir: Path, fake_dir: Path, model_key: str | None, out: Path | None) -> None:
    """Fit a calibration of one model's scores on folders of real and fake images; report how much it helps.

    The server stores and applies calibrations: `flask --app deepfake_detection.app calibrate` or the
    administrator page. This command measures, and with --out keeps the result as a file.
    """
    engine = _engine()
    try:
        scores = score_labelled_folders(engine, real_dir=real_dir, fake_dir=fake_dir, model_key=model_key)
        for path, why in scores.skipped:
            click.echo(f"skipped {path}: {why}", err=True)
        calibration = fit_calibration(scores.probabilities, scores.labels)
        if scores.model_key == ENSEMBLE_KEY:
            # Fitted over the members' raw scores: the server applies it only while no member is calibrated.
            calibration = replace(calibration, basis=engine.ensemble_basis({}))
    except EngineError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"{scores.model_key}: {calibration_summary(calibration)}")
    if out is not None:
        out.write_text(json.dumps({"model_key": scores.model_key, "calibration": calibration.to_dict()}, indent=2))
        click.echo(f"written to {out}")
