"""The transcription engine: faster-whisper (CTranslate2) on the CPU.

Loaded once per process, off the event loop; ``transcribe`` is blocking and meant for a worker
thread (CTranslate2 releases the GIL while it computes). A missing model or a wrong checksum
leaves the engine ``unavailable`` with the reason; the server runs on without transcription."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from server.settings import Settings
from server.transcription.audio import RATE
from server.transcription.model import ModelSource, ModelUnavailable, read_checked, resolve

if TYPE_CHECKING:
    import numpy as np  # imported where used: server start stays lean

log = logging.getLogger("smo.transcription")
LANGUAGE = "ru"


@dataclass(frozen=True, slots=True)
class Piece:
    """A stretch of recognised speech, in seconds from the start of the audio."""

    start: float
    end: float
    text: str


@dataclass(frozen=True, slots=True)
class EngineOptions:
    model: str | None = None  # SMO_TRANSCRIPTION_MODEL
    model_sha256: str | None = None
    # The defaults are the settings' (one source: server/settings.py).
    threads: int = Settings.model_fields["transcription_threads"].default
    beam_size: int = Settings.model_fields["transcription_beam_size"].default
    compute_type: str = "int8"

    @classmethod
    def from_settings(cls, settings: Settings) -> EngineOptions:
        return cls(
            model=settings.transcription_model,
            model_sha256=settings.transcription_model_sha256,
            threads=settings.transcription_threads,
            beam_size=settings.transcription_beam_size,
        )


class Engine:
    """One Whisper model. ``load()`` may be called from any thread; it verifies first."""

    def __init__(self, options: EngineOptions) -> None:
        self.options = options
        self.source: ModelSource | None = None
        self.reason: str | None = None  # why the engine is unavailable
        self.load_seconds: float | None = None
        self.checked = False  # the model's files and checksum were checked (``check``)
        self._model: Any = None
        self._lock = threading.Lock()  # one inference at a time per engine

    @property
    def available(self) -> bool:
        return self._model is not None

    @property
    def model_name(self) -> str:
        return self.source.name if self.source is not None else ""

    def check(self) -> bool:
        """Check the model (files, checksum) without loading it: cheap enough for every
        server start, so the log and /healthz say at once whether transcription can run."""
        with self._lock:
            if self._model is not None or self.checked:
                return self.reason is None
            try:
                source = resolve(self.options.model, self.options.model_sha256)
                self.source = source
                read_checked(source, keep=False)
            except ModelUnavailable as exc:
                self.reason = exc.reason
                log.error("transcription unavailable", extra={"reason": self.reason})
            self.checked = True
            return self.reason is None

    def load(self) -> bool:
        """Verify and load the model; on failure keep the reason. Returns availability."""
        with self._lock:
            if self._model is not None:
                return True
            if self.checked and self.reason is not None:
                return False
            started = time.perf_counter()
            try:
                source = resolve(self.options.model, self.options.model_sha256)
                self.source = source
                files = read_checked(source)
                from faster_whisper import WhisperModel

                self._model = WhisperModel(
                    str(source.path),
                    device="cpu",
                    compute_type=self.options.compute_type,
                    cpu_threads=self.options.threads,
                    local_files_only=True,
                    files=files,
                )
                del files
            except ModelUnavailable as exc:
                self.reason = exc.reason
            except Exception as exc:  # a directory that is not a CTranslate2 Whisper model
                self.reason = f"model could not be loaded: {type(exc).__name__}: {exc}"
            if self._model is None:
                log.error("transcription unavailable", extra={"reason": self.reason})
                return False
            self.reason = None
            self.load_seconds = time.perf_counter() - started
            log.info(
                "transcription model loaded",
                extra={"model": self.model_name, "seconds": round(self.load_seconds, 2)},
            )
            return True

    def transcribe(self, audio: np.ndarray | str, timestamps: bool = True) -> list[Piece]:
        """Blocking: recognised pieces of 16 kHz mono float32 samples (or of a file path).

        ``timestamps=False`` (a room segment: its times are the speech events') decodes the
        text alone, which was also the more accurate on bench/transcript.py's sentences
        (docs/transcript.md); the pieces then carry the times of Whisper's 30-second windows
        only."""
        import numpy as np

        if self._model is None:
            raise ModelUnavailable(self.reason or "model not loaded")
        if isinstance(audio, np.ndarray) and audio.size < RATE // 10:
            return []
        with self._lock:
            segments, _info = self._model.transcribe(
                audio,
                language=LANGUAGE,
                temperature=0.0,
                beam_size=self.options.beam_size,
                condition_on_previous_text=False,
                vad_filter=True,
                without_timestamps=not timestamps,
            )
            pieces = [Piece(s.start, s.end, s.text.strip()) for s in segments]
        return [p for p in pieces if p.text]


_ENGINES: dict[EngineOptions, Engine] = {}
_ENGINES_LOCK = threading.Lock()


def shared_engine(options: EngineOptions) -> Engine:
    """One engine per options in a process (apps in one process share the model)."""
    with _ENGINES_LOCK:
        engine = _ENGINES.get(options)
        if engine is None:
            engine = _ENGINES[options] = Engine(options)
        return engine
