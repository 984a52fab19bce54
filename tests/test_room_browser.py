"""The browser meeting room in real headless Chromium against the real server: a methodist
and a teacher run a meeting (start, agenda, chat, hand, floor, decision poll) and what each
page shows is checked; XSS payloads in chat and in a display name stay text.

Screenshots go to test-artifacts/ (git-ignored). The UI does not depend on the database, so
these tests run on SQLite only (the room's server side is covered on both elsewhere).
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from realtime.meeting.registry import room_state
from server.db.models import MeetingGuest, Role
from tests.support.browser import Tab, chromium, login, open_tab, screenshot
from tests.support.client import WebClient
from tests.support.factories import (
    DEFAULT_PASSWORD,
    add_member,
    logged_in_client,
    make_association,
    make_meeting,
    make_user,
)
from tests.support.live import LiveServer
from tests.support.net import wait_for
from tests.support.sio import guest_cookie

# Browser tests run on SQLite only: the page does not depend on the database.
browser_test = pytest.mark.parametrize(
    "backend", [pytest.param("sqlite", marks=pytest.mark.browser)], indirect=True
)

STATIC_ROOM = Path(__file__).resolve().parents[1] / "static" / "js" / "room"
XSS_NAME = '<img src=x onerror="window.__xss=1;alert(1)">'
XSS_CHAT = (
    '<script>window.__xss=2;alert(2)</script><img src=x onerror="window.__xss=3">'
    ' javascript:alert(4) <a href="javascript:alert(5)">ссылка</a>'
)


async def seed(
    server: LiveServer, teacher_last_name: str = "Петрова", admission: str = "open"
) -> tuple[int, list[int]]:
    db = server.runtime.db
    association = await make_association(db)
    methodist = await make_user(
        db,
        "metodist@example.org",
        last_name="Смирнова",
        first_name="Елена",
        middle_name="Викторовна",
        school="МБОУ «Лицей № 17»",
    )
    teacher = await make_user(
        db,
        "teacher@example.org",
        last_name=teacher_last_name,
        first_name="Анна",
        middle_name="Сергеевна",
        school="МБОУ «СОШ № 1»",
    )
    await add_member(db, association.id, methodist.id, Role.methodist)
    await add_member(db, association.id, teacher.id, Role.member)
    meeting = await make_meeting(
        db,
        association.id,
        "Заседание СМО учителей математики № 2",
        agenda=("О плане работы СМО на 2026/27 учебный год", "Обмен опытом: формирующее оценивание"),
        admission=admission,
    )
    return meeting.id, [methodist.id, teacher.id]


async def add_guest(server: LiveServer, meeting_id: int, name: str = "Кузнецова Ольга Ивановна") -> int:
    async with server.runtime.db.transaction() as s:
        guest = MeetingGuest(
            meeting_id=meeting_id,
            name=name,
            organisation="МОУ «Гимназия № 15»",
            token_hash=secrets.token_hex(16),
        )
        s.add(guest)
        await s.flush()
    return guest.id


# --- the page's access rules (HTTP, both databases) ---------------------------------------------


async def test_room_page_is_for_members_admins_and_the_meetings_guests(
    server: LiveServer, client: WebClient
) -> None:
    meeting_id, _ = await seed(server)
    other_meeting = await make_meeting(
        server.runtime.db, (await make_association(server.runtime.db, "Другое СМО")).id
    )
    outsider = await make_user(server.runtime.db, "outsider@example.org")
    await make_user(server.runtime.db, "admin@example.org", is_admin=True)
    path = f"/meetings/{meeting_id}/room"

    r = await client.get(path)
    assert r.status_code == 303 and r.headers["location"] == f"/login?next={path}"
    for email in ("teacher@example.org", "metodist@example.org", "admin@example.org"):
        c = await logged_in_client(server, email)
        try:
            r = await c.get(path)
            assert r.status_code == 200, email
            assert f'data-meeting-id="{meeting_id}"' in r.text
            assert '<script type="module" src="/static/js/room/room.js"></script>' in r.text
            assert "<script>" not in r.text  # configuration comes in data- attributes only
        finally:
            await c.aclose()
    c = await logged_in_client(server, "outsider@example.org")
    try:
        assert (await c.get(path)).status_code == 403
        assert (await c.get("/meetings/999999/room")).status_code == 404
    finally:
        await c.aclose()
    assert outsider.id

    guest_id = await add_guest(server, meeting_id)
    secret = server.runtime.secret_key
    async with WebClient(base_url=server.url, follow_redirects=False, timeout=20) as g:
        g.cookies.set("smo_session", guest_cookie(secret, guest_id, meeting_id))
        r = await g.get(path)
        assert r.status_code == 200
        assert f'data-me="g:{guest_id}"' in r.text and "О.И. Кузнецова" in r.text
        # The same guest session opens no other meeting's room.
        assert (await g.get(f"/meetings/{other_meeting.id}/room")).status_code == 303
        g.cookies.set("smo_session", guest_cookie(secret, guest_id, other_meeting.id))
        assert (await g.get(f"/meetings/{other_meeting.id}/room")).status_code == 303

    assert (await client.get("/static/vendor/socket.io/socket.io.esm.min.js")).status_code == 200
    assert "MIT" in (await client.get("/static/vendor/socket.io/LICENSE")).text


def comparable(snapshot: dict[str, Any]) -> dict[str, Any]:
    """The parts of a room snapshot that the browser's fold (static/js/room/state.js) and the
    server's (server/domain/meeting/room_state.py) must agree on."""
    person_fields = ("name", "short_name", "role", "moderator", "connected", "removed", "hand_raised_at")
    return {
        "meeting": {
            k: snapshot["meeting"][k] for k in ("status", "locked", "admission", "started_at", "ended_at")
        },
        "last_seq": snapshot["last_seq"],
        "agenda": [
            {k: a[k] for k in ("id", "started_at", "ended_at", "spent_seconds")} for a in snapshot["agenda"]
        ],
        "current_item_id": snapshot["current_item_id"],
        "participants": {
            k: {f: p[f] for f in person_fields} for k, p in sorted(snapshot["participants"].items())
        },
        "waiting": snapshot["waiting"],
        "hands": snapshot["hands"],
        "floor": snapshot["floor"],
        "speaking": snapshot["speaking"],
        "polls": {
            str(k): {f: p.get(f) for f in ("status", "ballots", "result", "question", "options")}
            for k, p in snapshot["polls"].items()
        },
        "chat": [m["seq"] for m in snapshot["chat"]],
    }


async def enter_room(tab: Tab, server: LiveServer, email: str, meeting_id: int) -> Page:
    page = tab.page
    await login(page, server.url, email, DEFAULT_PASSWORD, next_url=f"/meetings/{meeting_id}/room")
    await expect(page).to_have_url(re.compile(rf"/meetings/{meeting_id}/room$"))
    await pass_prejoin(page)
    await expect(page.locator("#room")).to_have_attribute("data-connection", "online")
    return page


async def pass_prejoin(page: Page) -> None:
    """The device check before entering: these tests need no camera or microphone."""
    await page.get_by_role("button", name="Войти без камеры и микрофона").click()


async def open_panel(page: Page, name: str) -> None:
    """Open a side panel (one at a time) from its button in the control bar."""
    button = page.locator(f'[data-panel-button="{name}"]')
    if await button.get_attribute("aria-expanded") != "true":
        await button.click()
    await expect(page.locator(f'#side [data-panel="{name}"]')).to_be_visible()


async def moderator_menu(page: Page) -> None:
    button = page.locator("#mod-menu-button")
    if await button.get_attribute("aria-expanded") != "true":
        await button.click()
    await expect(page.locator("#mod-menu")).to_be_visible()


@browser_test
async def test_methodist_and_teacher_run_a_meeting(server: LiveServer) -> None:
    meeting_id, (methodist_id, teacher_id) = await seed(server)
    teacher_key = f"u:{teacher_id}"
    async with chromium() as browser:
        mt, tt = await open_tab(browser), await open_tab(browser)
        try:
            m = await enter_room(mt, server, "metodist@example.org", meeting_id)
            t = await enter_room(tt, server, "teacher@example.org", meeting_id)

            # Media (static/js/room/media.js) and documents (documents.js) are mounted when present.
            for name in ("media", "documents"):
                present = (STATIC_ROOM / f"{name}.js").exists()
                await expect(m.locator("#room")).to_have_attribute(
                    f"data-{name}", "mounted" if present else "absent"
                )

            # Both see each other; only the methodist sees the controls.
            await expect(m.locator(f'#participants-body [data-participant="{teacher_key}"]')).to_contain_text(
                "А.С. Петрова"
            )
            await expect(
                t.locator(f'#participants-body [data-participant="u:{methodist_id}"] .role-methodist')
            ).to_have_text("Методист")
            await expect(t.locator("#moderation")).to_be_hidden()
            await expect(t.locator(".button-start")).to_have_count(0)

            # The methodist starts the meeting and the first agenda item.
            await m.get_by_role("button", name="Начать заседание").click()
            for page in (m, t):
                await expect(page.locator("#room-status")).to_have_text("Идёт")
            await open_panel(m, "agenda")
            await m.get_by_role("button", name="Начать пункт 1").click()
            await expect(t.locator(".agenda-item.current")).to_contain_text("О плане работы СМО")
            await expect(t.locator("#stage-item")).to_contain_text("1. О плане работы СМО")

            # Chat both ways, with a safe link and a reply.
            await open_panel(m, "chat")
            await open_panel(t, "chat")
            await m.locator("#chat-input").fill(
                "Добрый день, коллеги! План: https://example.org/plan?y=2026."
            )
            await m.locator("#chat-input").press("Enter")
            link = t.locator("#chat-log a")
            await expect(link).to_have_attribute("href", "https://example.org/plan?y=2026")
            await expect(link).to_have_attribute("rel", "noopener noreferrer")
            await t.locator("#chat-log .msg").first.get_by_role("button", name=re.compile("Ответить")).click()
            await t.locator("#chat-input").fill("Здравствуйте! План прочитала.")
            await t.get_by_role("button", name="Отправить").click()
            reply = m.locator("#chat-log .msg", has_text="План прочитала")
            await expect(reply.locator(".quote")).to_contain_text("Добрый день, коллеги!")
            await expect(reply.locator(".author")).to_have_text("А.С. Петрова")

            # The teacher raises a hand; the methodist gives the floor.
            await t.get_by_role("button", name="Поднять руку").click()
            await expect(t.locator("#hand-button")).to_contain_text("Опустить руку")
            await open_panel(m, "participants")
            queue = m.locator(f'#hand-queue [data-participant="{teacher_key}"]')
            await expect(queue).to_contain_text("А.С. Петрова")
            await screenshot(m, "room-methodist-queue")
            await queue.get_by_role("button", name="Дать слово").click()
            await expect(t.locator(".floor-box.mine")).to_contain_text("Вам предоставлено слово")
            await expect(t.locator("#announcer")).to_have_text("Вам предоставлено слово")
            await expect(m.locator("#stage-floor")).to_have_text("А.С. Петрова")
            await expect(m.locator("#hand-queue")).to_have_count(0)

            # A decision poll: created and opened by the methodist, the teacher votes «за».
            await open_panel(m, "polls")
            await m.locator("#new-poll").click()
            await m.locator("#poll-question").fill("Утвердить план работы СМО на 2026/27 учебный год")
            await m.locator("#poll-decision").fill("Утвердить план работы СМО на 2026/27 учебный год.")
            await m.locator("#poll-minutes").fill("30")
            await screenshot(m, "room-methodist-poll-form")
            await m.locator("#poll-create-open").click()
            poll_t = t.locator("#ballots .ballot")
            await expect(poll_t.locator(".poll-question")).to_have_text(
                "Утвердить план работы СМО на 2026/27 учебный год"
            )
            await expect(poll_t.locator(".countdown")).to_contain_text("закроется через 29:")
            await poll_t.get_by_text("За", exact=True).click()
            await screenshot(t, "room-teacher-voting")
            await poll_t.get_by_role("button", name="Проголосовать").click()
            await expect(poll_t.locator(".voted")).to_contain_text("Ваш голос учтён")
            await expect(m.locator(".ballot .ballots")).to_have_text("Проголосовали: 1")
            await m.get_by_role("button", name="Закрыть голосование").click()
            for page in (m, t):
                closed = page.locator("#ballots .ballot-result")
                await expect(closed.locator(".outcome")).to_contain_text("Решение принято")
                await expect(closed.locator(".bars li").first).to_contain_text("За")
                await expect(closed.locator(".bars li").first.locator(".bar-count")).to_have_text("1")

            # A private message, marked «лично» on both sides.
            await t.locator("#chat-to").select_option(f"u:{methodist_id}")
            await t.locator("#chat-input").fill("Можно я выступлю по второму пункту?")
            await t.locator("#chat-input").press("Enter")
            private = m.locator("#chat-log .msg.private")
            await expect(private.locator(".private-tag")).to_have_text("лично вам")
            await expect(private.locator(".msg-text")).to_have_text("Можно я выступлю по второму пункту?")
            await expect(t.locator("#chat-log .msg.private .private-tag")).to_have_text(
                "лично для Е.В. Смирнова"
            )

            await screenshot(m, "room-methodist")
            await screenshot(t, "room-teacher")

            # The methodist ends the meeting (with a confirmation); both pages close the room.
            await moderator_menu(m)
            await m.get_by_role("button", name="Завершить заседание").click()
            await expect(m.locator("#end-dialog")).to_contain_text("Завершить заседание для всех?")
            await m.get_by_role("button", name="Да, завершить").click()
            for page in (m, t):
                await expect(page.locator("#room-status")).to_have_text("Завершено")
                await expect(page.locator("#chat-form")).to_be_hidden()
                await expect(page.locator("#stage")).to_contain_text("Заседание завершено")
            await expect(t.locator("#hand-button")).to_have_count(0)
            await expect(m.locator("#moderation")).to_be_hidden()

            # Each page's fold of the events equals the server's snapshot for that person.
            state = await room_state(server.runtime, meeting_id)
            for page, key in ((m, f"u:{methodist_id}"), (t, teacher_key)):
                page_state = await page.evaluate("JSON.parse(JSON.stringify(window.smoRoom.store.state))")
                assert comparable(page_state) == comparable(state.snapshot(key))
            mt.assert_clean()
            tt.assert_clean()
        finally:
            await mt.close()
            await tt.close()


@browser_test
async def test_xss_in_chat_and_display_name_stays_text(server: LiveServer) -> None:
    meeting_id, (_, teacher_id) = await seed(server, teacher_last_name=XSS_NAME)
    async with chromium() as browser:
        mt, tt = await open_tab(browser), await open_tab(browser)
        try:
            m = await enter_room(mt, server, "metodist@example.org", meeting_id)
            t = await enter_room(tt, server, "teacher@example.org", meeting_id)
            await m.get_by_role("button", name="Начать заседание").click()
            await expect(t.locator("#room-status")).to_have_text("Идёт")

            await open_panel(t, "chat")
            await t.locator("#chat-input").fill(XSS_CHAT)
            await t.locator("#chat-input").press("Enter")
            for page in (m, t):
                msg = page.locator("#chat-log .msg").last
                await expect(msg.locator(".msg-text")).to_have_text(XSS_CHAT)
                await expect(msg.locator(".author")).to_contain_text("<img src=x onerror=", ignore_case=True)
                # Nothing was injected: no element from the payloads, no javascript: link.
                assert await page.locator("#chat-log .msg-text *").count() == 0
                assert (
                    await page.locator(
                        "#room img, #room script, #room svg:not(.icon):not(.slot-icon)"
                    ).count()
                    == 0
                )
                assert await page.locator('a[href^="javascript:"]').count() == 0
                await expect(
                    page.locator(f'#participants-body [data-participant="u:{teacher_id}"] .name')
                ).to_contain_text("<img src=x onerror=", ignore_case=True)
                assert await page.evaluate("window.__xss") is None
            await screenshot(m, "room-xss-methodist")

            # A refused action (a teacher may not give the floor) shows the server's Russian message.
            ack = await t.evaluate("window.smoRoom.request('floor.grant', {})")
            assert ack["ok"] is False and ack["error"]["code"] == "forbidden"
            await expect(t.locator(".toast-error")).to_have_text("Недостаточно прав для этого действия.")

            tt.assert_clean()

            # «Покинуть заседание»: the others see the teacher leave. (The teacher's page is not
            # checked after this: what the panels do while the page unloads is theirs.)
            await t.get_by_role("link", name="Покинуть заседание").click()
            await expect(t).to_have_url(re.compile(rf"/meetings/{meeting_id}$"))
            await expect(
                m.locator(f'#participants-body [data-participant="u:{teacher_id}"] .dot.off')
            ).to_have_count(1)
            print("teacher page errors while leaving:", tt.page_errors)
            mt.assert_clean()
        finally:
            await mt.close()
            await tt.close()


@browser_test
async def test_reconnect_shows_indicator_and_replays_missed_messages(server: LiveServer) -> None:
    from realtime.meeting.broadcast import participant_room

    meeting_id, (_, teacher_id) = await seed(server)
    async with chromium() as browser:
        mt, tt = await open_tab(browser), await open_tab(browser)
        try:
            m = await enter_room(mt, server, "metodist@example.org", meeting_id)
            t = await enter_room(tt, server, "teacher@example.org", meeting_id)
            await m.get_by_role("button", name="Начать заседание").click()
            await expect(t.locator("#room-status")).to_have_text("Идёт")
            await open_panel(m, "chat")
            await open_panel(t, "chat")
            await t.evaluate(
                """() => {
                    window.__conn = [];
                    new MutationObserver(() => window.__conn.push(document.getElementById('room').dataset.connection))
                      .observe(document.getElementById('room'), {attributes: true, attributeFilter: ['data-connection']});
                }"""
            )

            # The teacher's network drops; the server sees the connection go.
            await tt.context.set_offline(True)
            sio = server.runtime.sio
            assert sio is not None
            for sid, _ in list(
                sio.manager.get_participants("/", participant_room(meeting_id, f"u:{teacher_id}"))
            ):
                await sio.disconnect(sid)
            await expect(t.locator("#conn-indicator")).to_have_text("Переподключение…")
            await expect(t.locator("#conn-indicator")).to_be_visible()

            # Meanwhile the methodist writes; the teacher's page can fail to send.
            await m.locator("#chat-input").fill("Сообщение, пока коллега была offline")
            await m.locator("#chat-input").press("Enter")
            await expect(m.locator("#chat-log .msg")).to_have_count(1)
            await t.locator("#chat-input").fill("не уйдёт")
            await t.locator("#chat-input").press("Enter")
            await expect(t.locator(".toast").first).to_contain_text("Нет соединения")

            # Back online: the page rejoins with its last seq and gets exactly the missed event.
            await tt.context.set_offline(False)
            await expect(t.locator("#room")).to_have_attribute("data-connection", "online", timeout=20_000)
            await expect(t.locator("#conn-indicator")).to_be_hidden()
            await expect(t.locator("#chat-log .msg")).to_have_count(1)
            await expect(t.locator("#chat-log .msg-text")).to_have_text(
                "Сообщение, пока коллега была offline"
            )
            assert "reconnecting" in await t.evaluate("window.__conn")
            await expect(
                m.locator(f'#participants-body [data-participant="u:{teacher_id}"] .dot.on')
            ).to_have_count(1)
            await screenshot(t, "room-teacher-reconnected")
            mt.assert_clean()
            tt.assert_clean()
        finally:
            await mt.close()
            await tt.close()


@browser_test
async def test_guest_waits_and_the_methodist_admits(server: LiveServer) -> None:
    meeting_id, (methodist_id, _) = await seed(server, admission="guests")
    m_key = f"u:{methodist_id}"
    guest_id = await add_guest(server, meeting_id)
    async with chromium() as browser:
        mt, gt = await open_tab(browser), await open_tab(browser)
        try:
            m = await enter_room(mt, server, "metodist@example.org", meeting_id)
            await m.get_by_role("button", name="Начать заседание").click()
            await expect(m.locator("#room-status")).to_have_text("Идёт")

            cookie = guest_cookie(server.runtime.secret_key, guest_id, meeting_id)
            await gt.context.add_cookies([{"name": "smo_session", "value": cookie, "url": server.url}])
            g = gt.page
            await g.goto(f"{server.url}/meetings/{meeting_id}/room")
            await pass_prejoin(g)
            await expect(g.locator("#room-overlay")).to_contain_text("Вы в зале ожидания")
            await expect(g.locator("#room")).to_have_attribute("data-connection", "waiting")

            await open_panel(m, "participants")
            waiting = m.locator(f'.waiting-room [data-participant="g:{guest_id}"]')
            await expect(waiting).to_contain_text("Кузнецова Ольга Ивановна")
            await expect(waiting.locator(".role-guest")).to_have_text("Гость")
            await screenshot(m, "room-methodist-waiting")
            await waiting.get_by_role("button", name="Впустить").click()

            await expect(g.locator("#room")).to_have_attribute("data-connection", "online")
            await expect(g.locator("#room-overlay")).to_be_hidden()
            await expect(g.locator("#room-status")).to_have_text("Идёт")
            await expect(m.locator(".waiting-room")).to_have_count(0)
            await expect(
                m.locator(f'#participants-body [data-participant="g:{guest_id}"] .dot.on')
            ).to_have_count(1)
            await open_panel(g, "chat")
            await g.locator("#chat-input").fill("Спасибо, что пустили!")
            await g.locator("#chat-input").press("Enter")
            await expect(m.locator("#chat-log .msg .author")).to_have_text("О.И. Кузнецова")
            await screenshot(g, "room-guest")

            # Removed by the methodist: the guest's page says so and stops.
            row = m.locator(f'#participants-body [data-participant="g:{guest_id}"]')
            await row.locator("summary").click()
            await row.get_by_role("button", name="Удалить из заседания").click()
            await expect(g.locator("#room-overlay")).to_contain_text("Вы удалены из заседания")
            await expect(g.locator("#room")).to_have_attribute("data-connection", "removed")
            removed = m.locator(f'.removed-list [data-participant="g:{guest_id}"]')
            await expect(removed).to_contain_text("О.И. Кузнецова")
            await screenshot(g, "room-guest-removed")

            # Readmitted: the same tab knocks again by itself (under this admission policy a
            # readmitted guest waits to be admitted once more), and comes back in.
            await removed.locator("summary").click()
            await removed.get_by_role("button", name="Разрешить вернуться").click()
            await expect(g.locator("#room")).to_have_attribute(
                "data-connection", re.compile("waiting|online")
            )
            if await g.locator("#room").get_attribute("data-connection") == "waiting":
                await waiting.get_by_role("button", name="Впустить").click()
            await expect(g.locator("#room")).to_have_attribute("data-connection", "online")
            await expect(g.locator("#room-overlay")).to_be_hidden()
            await expect(
                m.locator(f'#participants-body [data-participant="g:{guest_id}"] .dot.on')
            ).to_have_count(1)

            # A second guest is denied, asks again, and is back in the waiting room.
            other_id = await add_guest(server, meeting_id, "Соколов Игорь Андреевич")
            ot = await open_tab(browser)
            try:
                cookie = guest_cookie(server.runtime.secret_key, other_id, meeting_id)
                await ot.context.add_cookies([{"name": "smo_session", "value": cookie, "url": server.url}])
                o = ot.page
                await o.goto(f"{server.url}/meetings/{meeting_id}/room")
                await pass_prejoin(o)
                await expect(o.locator("#room")).to_have_attribute("data-connection", "waiting")
                knock = m.locator(f'.waiting-room [data-participant="g:{other_id}"]')
                await knock.get_by_role("button", name="Отклонить").click()
                await expect(o.locator("#room-overlay")).to_contain_text("Вход отклонён")
                await o.get_by_role("button", name="Попросить ещё раз").click()
                await expect(o.locator("#room")).to_have_attribute("data-connection", "waiting")
                await expect(knock).to_contain_text("Соколов Игорь Андреевич")
                await knock.get_by_role("button", name="Впустить").click()
                await expect(o.locator("#room")).to_have_attribute("data-connection", "online")
                ot.assert_clean()
            finally:
                await ot.close()

            # Lock the meeting and make everyone wait for admission.
            await moderator_menu(m)
            await m.get_by_role("button", name="Закрыть вход").click()
            await expect(m.locator('#moderation [data-fk="lock"]')).to_have_attribute("aria-pressed", "true")
            await expect(m.locator('#moderation [data-fk="lock"]')).to_contain_text("Открыть вход")
            await m.locator("#admission-select").select_option("everyone")
            await expect(m.locator("#admission-select")).to_have_value("everyone")
            await wait_for(lambda: m.evaluate("window.smoRoom.store.state.meeting.admission === 'everyone'"))
            state = await room_state(server.runtime, meeting_id)
            page_state = await m.evaluate("JSON.parse(JSON.stringify(window.smoRoom.store.state))")
            assert comparable(page_state) == comparable(state.snapshot(m_key))
            mt.assert_clean()
            gt.assert_clean()
        finally:
            await mt.close()
            await gt.close()
