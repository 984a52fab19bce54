"""The transcript's pieces of the protocol (server/domain/protocol/transcript.py), pure."""

from __future__ import annotations

from datetime import timedelta

from server.domain.protocol.transcript import condense, recording_line, spoken_words
from tests.support.logs import LogBuilder, meeting_info


def test_condense_keeps_whole_first_sentences_up_to_the_limit() -> None:
    assert condense("") == ""
    assert condense("  Коротко   и ясно.  ") == "Коротко и ясно."
    three = "Первое предложение из пяти слов. Второе тоже из пяти слов. Третье снова из пяти слов."
    assert condense(three, limit=10) == "Первое предложение из пяти слов. Второе тоже из пяти слов. …"
    assert condense(three, limit=15) == three
    endless = " ".join(f"слово{i}" for i in range(100))
    cut = condense(endless)
    assert cut.endswith(" …") and len(cut.split()) == 61


def test_words_belong_to_the_item_they_were_spoken_in_and_the_switches_are_stated() -> None:
    info = meeting_info(3, agenda=(("Первый", 0), ("Второй", 1)))
    m = info.members
    b = LogBuilder().begin()
    b.at(1).item(101, 1, "Первый").at(5).item_end(101).at(6).item(102, 2, "Второй").at(9).end()

    def segment(who: int, minute: float, text: str) -> None:
        start = b.start + timedelta(minutes=minute)
        payload = {
            "participant": m[who].key,
            "started_at": start,
            "ended_at": start + timedelta(seconds=20),
            "text": text,
            "language": "ru",
            "model": "whisper-base",
        }
        b.add("transcript.segment", payload)

    segment(1, 7, "про второй")  # logged after the meeting ended, spoken in item 102
    segment(1, 2, "про первый")
    segment(2, 0.5, "до повестки")  # before any item: the first item, as the fold does
    segment(1, 2.5, "ещё про первый")
    words = spoken_words(b.events, info.agenda)
    assert words == {
        (101, m[1].key): "про первый ещё про первый",
        (102, m[1].key): "про второй",
        (101, m[2].key): "до повестки",
    }
    assert spoken_words(b.events, ()) == {
        (None, m[2].key): "до повестки",
        (None, m[1].key): "про первый ещё про первый про второй",
    }
    assert recording_line(b.events) == ""
    b.add("recording.switched", {"on": True})
    assert recording_line(b.events) == "Велась аудиозапись заседания."
    b.add("transcription.switched", {"on": True})
    assert recording_line(b.events) == "Велась аудиозапись и автоматическая расшифровка выступлений."
