"""The transcription engine on festival-spoken Russian: the pinned model and its checksum,
Opus segments as the SFU captures them, files through ``smo transcribe``."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import av
import numpy as np
import pytest

from server.cli import main
from server.transcription import model as model_module
from server.transcription.audio import BadAudio, decode_file, decode_opus, pack_packets
from server.transcription.engine import Engine, EngineOptions, shared_engine
from server.transcription.model import BASE_MODEL_SHA256, base_model_parts, sha256_of
from tests.support.speech import opus_packets

SPEECH = Path(__file__).parent / "speech"
LINE = re.compile(r"^\[\d\d:\d\d\.\d – \d\d:\d\d\.\d\] \S")


@pytest.fixture(scope="module")
def engine() -> Engine:
    engine = shared_engine(EngineOptions())
    assert engine.load(), engine.reason
    return engine


def words(text: str) -> str:
    return text.lower().replace("ё", "е")


def test_the_default_model_is_the_pinned_one() -> None:
    side, parts = base_model_parts()
    assert [p.name for p in parts] == ["model.bin.part1", "model.bin.part2"]
    assert (side / "config.json").is_file()
    import hashlib

    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.read_bytes())
    assert digest.hexdigest() == BASE_MODEL_SHA256


def test_wrong_checksum_or_missing_model_leaves_the_engine_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = Engine(EngineOptions(model=str(tmp_path / "nowhere")))
    assert not missing.load()
    assert missing.reason is not None and "not found" in missing.reason

    side, _ = base_model_parts()
    fake = tmp_path / "fake"
    fake.mkdir()
    shutil.copyfile(side / "config.json", fake / "config.json")
    (fake / "model.bin").write_bytes(b"\0" * 4096)
    wrong = Engine(EngineOptions(model=str(fake), model_sha256=BASE_MODEL_SHA256))
    assert not wrong.load()
    assert wrong.reason is not None and "checksum mismatch" in wrong.reason
    with pytest.raises(Exception, match="checksum mismatch"):
        wrong.transcribe(np.zeros(16000, dtype=np.float32))

    # A directory that is not a CTranslate2 model (and no checksum asked): it says so.
    unchecked = Engine(EngineOptions(model=str(fake)))
    assert not unchecked.load()
    assert unchecked.reason is not None and unchecked.reason.startswith("model could not be loaded")

    # The default model checked against another constant: refused before loading.
    monkeypatch.setattr(model_module, "BASE_MODEL_SHA256", "0" * 64)
    tampered = Engine(EngineOptions())
    assert not tampered.load()
    assert tampered.reason is not None and "checksum mismatch" in tampered.reason
    assert sha256_of(fake / "model.bin") != BASE_MODEL_SHA256


def test_opus_packets_as_captured_are_transcribed(engine: Engine) -> None:
    packets = opus_packets(SPEECH / "plan.wav")
    audio = decode_opus(pack_packets(packets))
    assert abs(len(audio) / 16000 - len(packets) * 0.02) < 0.1
    text = words(" ".join(p.text for p in engine.transcribe(audio)))
    for word in ("коллеги", "план", "методическ", "учебный год"):
        assert word in text, text

    # Lost packets become silence (the timeline keeps its length); a corrupt one is skipped.
    damaged = [p for i, p in enumerate(packets) if i % 50 != 7]
    damaged[10] = (damaged[10][0], b"\xff\xff\xff")
    audio = decode_opus(pack_packets(damaged))
    assert abs(len(audio) / 16000 - len(packets) * 0.02) < 0.1
    assert "план" in words(" ".join(p.text for p in engine.transcribe(audio)))

    with pytest.raises(BadAudio):
        decode_opus(b"not a segment")
    with pytest.raises(BadAudio):
        decode_opus(pack_packets(packets)[:-5])  # truncated


def test_smo_transcribe_prints_segments_with_times(
    engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["transcribe", str(SPEECH / "lesson.wav")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines and all(LINE.match(line) for line in lines), lines
    text = words(" ".join(lines))
    for word in ("предлагаю", "открытый урок"):
        assert word in text, text

    # The same speech as Ogg/Opus (what a browser recording would be).
    ogg = tmp_path / "lesson.ogg"
    with av.open(str(ogg), "w", format="ogg") as out:
        stream = out.add_stream("libopus", rate=48000)
        resampler = av.AudioResampler(format="s16", layout="mono", rate=48000)
        with av.open(str(SPEECH / "lesson.wav")) as src:
            for frame in src.decode(audio=0):
                for res in resampler.resample(frame):
                    for packet in stream.encode(res):
                        out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    assert abs(len(decode_file(ogg)) - len(decode_file(SPEECH / "lesson.wav"))) < 16000 * 0.1
    assert main(["transcribe", str(ogg)]) == 0
    assert "урок" in words(capsys.readouterr().out)

    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"RIFF????WAVEfmt nonsense")
    assert main(["transcribe", str(garbage)]) == 1
    assert "cannot read audio" in capsys.readouterr().err
