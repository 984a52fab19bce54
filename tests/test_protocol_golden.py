"""Golden tests: scripted event logs -> the exact protocol text (tests/golden/protocol/*.txt).

The expected files were written or checked by hand; ``UPDATE_GOLDEN=1`` rewrites them from the
code (then read every diff before keeping it).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from server.domain.meeting.meeting_log import LoggedEvent
from server.domain.protocol import AgendaEntry, MeetingInfo, assemble_protocol, render_text
from server.domain.protocol.model import Form
from tests.support.logs import LogBuilder, meeting_info, person

GOLDEN = Path(__file__).parent / "golden" / "protocol"
Scenario = tuple[MeetingInfo, list[LoggedEvent], Form]

DIAG = "О результатах диагностических работ"
PLAN = "О плане работы на второе полугодие"


def quorum() -> Scenario:
    """6 of 8 present; two items; a speech with detected speech inside the floor; chat (a private
    message stays out); an accepted and a unanimous decision; a shared document."""
    info = meeting_info(8, agenda=((DIAG, 2), (PLAN, 0)))
    m = info.members
    b = LogBuilder().begin()
    for x in m[:6]:
        b.join(x)
    b.at(2).item(101, 1, DIAG).floor(m[2]).at(14).floor(m[2], False)
    b.at(15).floor(m[3]).speech(m[3]).at(18).speech(m[3], False).at(19).floor(m[3], False)
    b.chat(m[4], "Предлагаю провести повторную диагностику в декабре").chat(m[4], "Это личное", to=m[3])
    b.at(20).poll(
        1, "Принять к сведению", decision_text="Принять к сведению результаты диагностических работ"
    )
    for i, x in enumerate(m[:6]):
        b.vote(1, x, 0 if i < 5 else 2)
    b.at(22).close(1, 8, 6).item_end(101)
    b.at(23).item(102, 2, PLAN).floor(m[0]).at(33).floor(m[0], False)
    b.floor(m[5]).at(35).chat(m[5], "Поддерживаю").floor(m[5], False)
    b.poll(2, "Утвердить план работы на второе полугодие")
    for x in m[:6]:
        b.vote(2, x, 0)
    b.at(37).close(2, 8, 6).item_end(102).snapshot(
        1, "План работы", "1. Семинар в январе\n\n2. Круглый стол в марте"
    )
    b.at(40).end()
    return info, b.events, "full"


def no_quorum() -> Scenario:
    """3 of 10 present: «Кворума нет.»; the vote is held but the decision fails for lack of quorum."""
    info = meeting_info(10, agenda=((DIAG, 0),))
    m = info.members
    b = LogBuilder().begin()
    for x in m[:3]:
        b.join(x)
    b.at(1).item(101, 1, DIAG).at(10).poll(1, "Принять к сведению результаты диагностических работ")
    for x in m[:3]:
        b.vote(1, x, 0)
    b.at(12).close(1, 10, 3, quorum=False).at(15).end()
    return info, b.events, "full"


def unanimous_short() -> Scenario:
    """The short form: no ВЫСТУПИЛИ, the chat becomes an attachment; a unanimous decision with a
    two-thirds quorum rule met exactly (4 of 6)."""
    info = meeting_info(6, agenda=((PLAN, 1),), quorum_rule="two_thirds")
    m = info.members
    b = LogBuilder().begin()
    for x in m[:4]:
        b.join(x)
    b.at(1).item(101, 1, PLAN).floor(m[2]).at(5).floor(m[2], False).chat(m[3], "Согласен")
    b.poll(1, "Утвердить план", decision_text="Утвердить план работы на второе полугодие")
    for x in m[:4]:
        b.vote(1, x, 0)
    b.at(7).close(1, 6, 4).item_end(101).at(10).end()
    return info, b.events, "short"


def rejected() -> Scenario:
    """A decision rejected 2–3–1, then a non-decision poll with two options."""
    info = meeting_info(6, agenda=(("О сроках олимпиады", 0),))
    m = info.members
    b = LogBuilder().begin()
    for x in m:
        b.join(x)
    b.at(1).item(101, 1, "О сроках олимпиады")
    b.poll(1, "Перенести олимпиаду на январь")
    for x, choice in zip(m, (0, 0, 1, 1, 1, 2), strict=True):
        b.vote(1, x, choice)
    b.at(5).close(1, 6, 6)
    b.poll(2, "Удобный день недели", kind="single", options=["вторник", "четверг"])
    for x, choice in zip(m[:5], (0, 1, 1, 0, 1), strict=True):
        b.vote(2, x, choice)
    b.at(8).close(2, 6, 6, decision=False).item_end(101).at(10).end()
    return info, b.events, "full"


def secret() -> Scenario:
    """A secret decision poll: counts only, no names anywhere."""
    info = meeting_info(5, agenda=(("О выдвижении на премию", 0),))
    m = info.members
    b = LogBuilder().begin()
    for x in m:
        b.join(x)
    b.at(1).item(101, 1, "О выдвижении на премию")
    b.poll(1, "Выдвинуть В.И. Васильеву на премию", secret=True)
    for x, choice in zip(m, (0, 0, 0, 1, 2), strict=True):
        b.vote(1, x, choice)
    b.at(4).close(1, 5, 5).item_end(101).at(10).end()
    return info, b.events, "full"


def threshold() -> Scenario:
    """A 60-minute meeting, share 0.5: joined at 30 (30 min, counted), at 31 (29 min, not), left at
    30 (counted), left at 29 (not); a reconnect with a second tab merged; a person present only
    before the start (clipped to nothing)."""
    info = meeting_info(8)
    m = info.members
    b = LogBuilder()
    b.join(m[7]).leave(m[7]).begin()
    for x in (m[0], m[1], m[4], m[5]):
        b.join(x)
    b.join(m[6])  # m[6]: 0–20, 25–50 (a second tab joins again meanwhile), 52–55: 48 min
    b.at(20).leave(m[6], "disconnect").at(25).join(m[6]).join(m[6]).at(50).leave(m[6]).at(52).join(m[6])
    b.at(29).leave(m[5]).at(30).leave(m[4]).join(m[2]).at(31).join(m[3])
    b.at(55).leave(m[6]).at(60).end().leave(m[0], "meeting_ended")
    return info, b.events, "full"


def guest() -> Scenario:
    """An invited guest lecturer: listed as Приглашенные with the organisation, a free-text
    rapporteur, a speech with a human summary (an edit), not counted for the quorum."""
    info = meeting_info(4, agenda=(("О подготовке к ОГЭ", None),))
    info = dataclasses.replace(info, agenda=(AgendaEntry(101, 1, "О подготовке к ОГЭ", "О.Н. Лекторова"),))
    m = info.members
    b = LogBuilder().begin()
    for x in m[:2]:
        b.join(x)
    g = b.guest(1, "Лекторова Ольга Николаевна", "О.Н. Лекторова", "ГАУ ДПО «Институт развития образования»")
    b.at(1).item(101, 1, "О подготовке к ОГЭ").floor(g).at(20).floor(g, False).floor(m[1]).at(23).floor(
        m[1], False
    )
    b.at(30).end()
    return info, b.events, "full"


def many() -> Scenario:
    """24 members, 21 present: «21 человек (список прилагается)»."""
    info = meeting_info(24, agenda=((PLAN, 0),))
    b = LogBuilder().begin()
    for x in info.members[:21]:
        b.join(x)
    b.at(1).item(101, 1, PLAN).at(30).end()
    return info, b.events, "full"


def no_agenda() -> Scenario:
    """No agenda: «Повестка дня не утверждена.», one implicit item with everything in it."""
    info = meeting_info(5)
    m = info.members
    b = LogBuilder().begin()
    for x in m[:4]:
        b.join(x)
    b.at(3).floor(m[1]).at(6).floor(m[1], False).chat(m[2], "Вопрос: когда следующее заседание?")
    b.poll(1, "Провести следующее заседание в январе")
    for x in m[:4]:
        b.vote(1, x, 0)
    b.at(8).close(1, 5, 4).at(10).end()
    return info, b.events, "full"


def bad_log() -> Scenario:
    """A log with gaps, a poll never closed, events after the end (ignored) and a poll closed
    after the end (kept)."""
    info = meeting_info(4, agenda=((DIAG, 0), (PLAN, 1)))
    m = info.members
    b = LogBuilder().begin()
    for x in m[:3]:
        b.join(x)
    b.skip(2).at(1).item(101, 1, DIAG).poll(1, "Принять к сведению")
    b.vote(1, m[0], 0).skip(1).at(10).item(102, 2, PLAN).poll(2, "Утвердить план")
    b.vote(2, m[0], 0).vote(2, m[1], 0).at(20).end()
    b.close(2, 4, 3).chat(m[0], "Всем спасибо").join(m[3])
    return info, b.events, "full"


def no_end() -> Scenario:
    """No meeting.started and no meeting.ended: the first and last events stand in."""
    info = meeting_info(3)
    m = info.members
    b = LogBuilder()
    for x in m:
        b.join(x)
    b.at(12).chat(m[0], "Начинаем?").at(25).leave(m[2])
    return info, b.events, "full"


def nobody() -> Scenario:
    """Started and ended, nobody ever connected."""
    info = meeting_info(3, agenda=((PLAN, 0),))
    b = LogBuilder().begin().at(15).end()
    return info, b.events, "full"


def interrupted() -> Scenario:
    """«Завершить заседание» while two polls are open: the decision poll and a single-choice poll
    are closed by the end (reason meeting_ended): not completed, the ballots so far, no outcome,
    and ПРИМЕЧАНИЯ names both. A poll closed normally before stays a completed vote."""
    info = meeting_info(5, agenda=((PLAN, 0),))
    m = info.members
    b = LogBuilder().begin()
    for x in m[:4]:
        b.join(x)
    b.at(1).item(101, 1, PLAN).poll(1, "Утвердить план работы")
    for x in m[:4]:
        b.vote(1, x, 0)
    b.at(5).close(1, 5, 4)
    b.poll(2, "Провести семинар в январе", decision_text="Провести семинар-практикум в январе")
    b.vote(2, m[0], 0).vote(2, m[1], 0).vote(2, m[2], 1)
    b.poll(3, "Удобный день недели", kind="single", options=["вторник", "четверг"])
    b.vote(3, m[3], 1)
    b.at(9).close(2, 5, 4, reason="meeting_ended").close(3, 5, 4, decision=False, reason="meeting_ended")
    b.item_end(101).end()
    return info, b.events, "full"


def legacy_interrupted() -> Scenario:
    """A log written before poll.closed carried a reason: an automatic close right before the
    end (only closing events between) is the end's, so the vote is reported as interrupted;
    an automatic close by the timer earlier in the meeting stays a completed vote."""
    info = meeting_info(4, agenda=((PLAN, 0),))
    m = info.members
    b = LogBuilder().begin()
    for x in m[:3]:
        b.join(x)
    b.at(1).item(101, 1, PLAN).poll(1, "Утвердить план работы")
    for x in m[:3]:
        b.vote(1, x, 0)
    b.at(3).close(1, 4, 3)
    b.events[-1].payload["automatic"] = True  # the timer closed it
    b.at(4).chat(m[0], "Переходим к следующему голосованию")
    b.poll(2, "Провести семинар в январе").vote(2, m[0], 0)
    b.at(6).close(2, 4, 3)
    b.events[-1].payload["automatic"] = True  # the end closed it (old log: no reason)
    b.item_end(101).end()
    return info, b.events, "full"


def absent_officers() -> Scenario:
    """The secretary never joined and the chair left after five minutes: both named in
    ПРИМЕЧАНИЯ (the header still names the meeting's officers until the methodist names others)."""
    info = meeting_info(5, agenda=((PLAN, 2),))
    m = info.members
    b = LogBuilder().begin()
    for x in (m[0], m[2], m[3], m[4]):
        b.join(x)
    b.at(5).leave(m[0]).at(6).item(101, 1, PLAN).at(30).end()
    return info, b.events, "full"


def officers_named() -> Scenario:
    """The same meeting after the methodist named the chair and the secretary from those present
    (edits officer.chair / officer.secretary): no absent officer left, the signatures follow."""
    return absent_officers()


def chat_promoted() -> Scenario:
    """Chat is not speech: greetings stay in the «Сообщения чата» attachment; the secretary
    promoted one message (chat.<seq>.promote) into ВЫСТУПИЛИ, placed when it was written; the
    rapporteur's floor is the report; a speaker who spoke twice is listed once, first spoke first;
    a speech summary that repeats the speaker's name is not doubled."""
    info = meeting_info(5, agenda=((DIAG, 1), (PLAN, 0)))
    m = info.members
    b = LogBuilder().begin()
    for x in m:
        b.join(x)
    b.at(1).chat(m[4], "Добрый день, коллеги! Начинаем заседание.")
    b.at(2).item(101, 1, DIAG).floor(m[1]).at(10).floor(m[1], False)
    b.floor(m[3]).at(12).floor(m[3], False)
    b.at(13).chat(m[2], "Предлагаю провести повторную диагностику в декабре")  # seq 13: promoted
    b.floor(m[4]).at(15).floor(m[4], False).floor(m[3]).at(16).floor(m[3], False)
    b.at(17).item(102, 2, PLAN).chat(m[3], "Согласен").at(18).end()
    return info, b.events, "full"


LONG_SPEECH = (
    "Коллеги, я изучил результаты диагностических работ по всем школам сети. "
    "Больше всего ошибок учащиеся допускают в задачах на проценты и в текстовых задачах, где нужно "
    "составить уравнение по условию, а также в заданиях с графиками функций и их свойствами. "
    "Предлагаю в декабре провести общий семинар для учителей седьмых и восьмых классов, "
    "подготовить банк задач и обменяться разработками уроков. "
    "Прошу руководителей школьных объединений прислать свои предложения до конца месяца."
)


def _transcribed(with_transcript: bool) -> Scenario:
    """The rapporteur's report and a member's speech on the first item, transcribed (the report
    without a prepared summary becomes СЛУШАЛИ; a long speech is condensed to its first
    sentences); one segment could not be transcribed. Segments are logged when transcribed,
    after the item ended: they still belong to the item they were spoken in."""
    info = meeting_info(6, agenda=((DIAG, 2), (PLAN, 0)))
    m = info.members
    b = LogBuilder().begin()
    if with_transcript:
        b.add("transcription.switched", {"on": True}, actor="system")
    for x in m[:5]:
        b.join(x)
    b.at(1).item(101, 1, DIAG).floor(m[2]).speech(m[2]).at(5).speech(m[2], False).floor(m[2], False)
    b.at(6).floor(m[3]).speech(m[3]).at(8).speech(m[3], False).floor(m[3], False).item_end(101)
    b.at(9).item(102, 2, PLAN).floor(m[0]).speech(m[0]).at(10).speech(m[0], False).floor(m[0], False)
    if with_transcript:

        def segment(who: int, start: float, end: float, text: str) -> None:
            b.add(
                "transcript.segment",
                {
                    "participant": m[who].key,
                    "started_at": b.start + timedelta(minutes=start),
                    "ended_at": b.start + timedelta(minutes=end),
                    "text": text,
                    "language": "ru",
                    "model": "whisper-base",
                },
            )

        b.at(10.5)
        segment(2, 1.1, 3.0, "Результаты диагностики в целом хорошие, средний балл вырос.")
        segment(2, 3.1, 4.9, "Слабое место остаются текстовые задачи.")
        segment(3, 6.1, 7.9, LONG_SPEECH)
        segment(0, 9.1, 9.9, "Предлагаю утвердить план работы на второе полугодие.")
        b.add(
            "transcript.failed",
            {
                "participant": m[3].key,
                "started_at": b.start + timedelta(minutes=7.95),
                "ended_at": b.start + timedelta(minutes=8.0),
                "reason": "corrupt_audio",
            },
        )
    b.at(12).end()
    return info, b.events, "full"


def transcript() -> Scenario:
    """Transcript segments (transcript.segment) give the gist of each speech: a speaker's words
    on the item in time order, condensed to the first 60 words and «…»; segments logged after the
    end count; a speaker with detected speech but no transcript gets the duration; a transcribed
    speaker without floor events is still listed."""
    info = meeting_info(4, agenda=((DIAG, 0), (PLAN, 0)))
    m = info.members
    long_text = " ".join(f"слово{n}" for n in range(1, 71))
    b = LogBuilder().begin()
    for x in m:
        b.join(x)
    b.at(1).item(101, 1, DIAG).floor(m[1]).at(4).floor(m[1], False)
    b.speech(m[2]).at(6).speech(m[2], False)
    b.at(7).item(102, 2, PLAN).floor(m[3]).at(9).floor(m[3], False).at(10).end()
    b.segment(m[1], 1.5, 2.5, "Предлагаю провести повторную диагностику")
    b.segment(m[1], 2.5, 3.5, "в декабре, по тем же заданиям.")
    b.segment(m[3], 7.2, 8.9, long_text)
    b.segment(m[1], 8.0, 8.5, "Поддерживаю.")
    return info, b.events, "full"


def held_early() -> Scenario:
    """Planned for 3 December, held on 2 December (started a day early): the protocol's date is
    the day it was held, in Moscow time (23:30 MSK on 2 December is 20:30 UTC)."""
    start = datetime(2026, 12, 2, 20, 30, tzinfo=UTC)
    info = dataclasses.replace(
        meeting_info(2),
        scheduled_start=datetime(2026, 12, 3, 7, 0, tzinfo=UTC),
        scheduled_end=datetime(2026, 12, 3, 8, 0, tzinfo=UTC),
    )
    m = info.members
    b = LogBuilder(start=start).begin()
    for x in m:
        b.join(x)
    b.at(20).end()
    return info, b.events, "full"


def guests() -> Scenario:
    """Guests typed their names as they liked: lower case, no patronymic, «Имя Отчество
    Фамилия», a Latin-script name; all read «И.О. Фамилия — организация», listed by surname."""
    info = meeting_info(2)
    m = info.members
    b = LogBuilder().begin()
    for x in m:
        b.join(x)
    b.guest(1, "Орлова Вера Михайловна", "Орлова Вера Михайловна", "ГАУ ДПО «ИРО»")
    b.guest(2, "вера орлова", "вера орлова", "")
    b.guest(3, "Анна Петровна Быстрова", "Анна Петровна Быстрова", "МБОУ «СОШ № 7»")
    b.guest(4, "John Smith", "John Smith", "University of Leeds")
    b.guest(5, "ИВАНОВ ПЁТР", "ИВАНОВ ПЁТР", "")
    b.at(30).end()
    return info, b.events, "full"


def attendance_gaps() -> Scenario:
    """A member left at 10:15 and came back at 10:20 (and again): every interval is listed with
    the total; two tabs overlapping make one interval."""
    info = meeting_info(3)
    m = info.members
    b = LogBuilder().begin()
    for x in m:
        b.join(x)
    b.at(5).leave(m[2], "disconnect").at(7).join(m[2]).join(m[2])  # a second tab
    b.at(15).leave(m[1]).at(20).join(m[1]).at(30).leave(m[1]).at(32).join(m[1])
    b.at(45).end()
    return info, b.events, "full"


def transcribed() -> Scenario:
    """A transcribed meeting end to end: the rapporteur's words as СЛУШАЛИ, speeches condensed,
    the стенограмма attached, an untranscribed fragment named in ПРИМЕЧАНИЯ."""
    return _transcribed(True)


def transcribed_off() -> Scenario:
    """The same meeting with transcription off: «выступление N мин.», no стенограмма."""
    return _transcribed(False)


SCENARIOS: dict[str, Callable[[], Scenario]] = {
    f.__name__: f
    for f in (
        quorum,
        no_quorum,
        unanimous_short,
        rejected,
        secret,
        threshold,
        guest,
        many,
        no_agenda,
        bad_log,
        no_end,
        nobody,
        interrupted,
        legacy_interrupted,
        absent_officers,
        officers_named,
        chat_promoted,
        transcript,
        held_early,
        guests,
        attendance_gaps,
        transcribed,
        transcribed_off,
    )
}
EDITS = {
    "guest": {
        "item.101.summary": "О типичных ошибках в заданиях ОГЭ по математике",
        "item.101.speech.u:2": "предложил провести пробный экзамен в феврале",
    },
    "officers_named": {"officer.chair": "u:3", "officer.secretary": "u:4"},
    "chat_promoted": {
        "chat.13.promote": "1",
        "item.101.speech.u:4": "Г.О. Григорьев — предложил обсудить итоги по классам",
    },
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_golden(name: str) -> None:
    info, events, form = SCENARIOS[name]()
    text = render_text(assemble_protocol(info, events, form=form, edits=EDITS.get(name)))
    path = GOLDEN / f"{name}.txt"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_assembly_is_deterministic_and_order_independent(name: str) -> None:
    info, events, form = SCENARIOS[name]()
    first = assemble_protocol(info, events, form=form)
    assert assemble_protocol(info, list(reversed(events)), form=form) == first


def test_person_names_are_alphabetical() -> None:
    assert [person(i).full_name for i in range(24)] == sorted(person(i).full_name for i in range(24))
