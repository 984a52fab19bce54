"""The secretary finishes the protocol in real headless Chromium: the warning about an absent
signatory, the edit form (officers, ВЫСТУПИЛИ, decisions, chat, ПРИМЕЧАНИЯ) saved with a visible
notice, and «Утвердить и разослать» asking first, then reporting the letters queued.

Screenshots: test-artifacts/protocol-warning.png, protocol-edit-form.png, protocol-saved.png,
protocol-approved.png. The pages do not depend on the database: SQLite only (the server side
runs on both backends in tests/test_protocol_officers_pages.py).
"""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from server.db.models import User
from server.db.models.protocols import MeetingProtocol, ProtocolStatus
from tests.support.browser import ARTIFACTS, chromium, login, open_tab, screenshot
from tests.support.live import LiveServer
from tests.test_protocol_officers_pages import hold_meeting_with_absent_secretary

browser_test = pytest.mark.parametrize(
    "backend", [pytest.param("sqlite", marks=pytest.mark.browser)], indirect=True
)


@browser_test
async def test_secretary_finishes_the_protocol_in_the_browser(server: LiveServer) -> None:
    cast, pid, proposal_seq = await hold_meeting_with_absent_secretary(server)
    async with server.runtime.db.read() as s:
        methodist = await s.get(User, cast.ids["methodist"])
        assert methodist is not None
        email = methodist.email
    member_key = cast.key("member")

    async with chromium() as browser:
        tab = await open_tab(browser)
        page = tab.page
        await login(page, server.url, email, "secret123", next_url=f"/protocols/{pid}")
        warning = page.locator("#protocol-warnings")
        await expect(warning).to_be_visible()
        await expect(warning).to_contain_text("секретарь Е.П. Кузнецова")
        await expect(page.locator("#protocol-document")).to_contain_text(
            "Голосование не завершено: прервано окончанием заседания."
        )
        await screenshot(page, "protocol-warning")

        form = page.locator("#protocol-edit")
        await expect(form.locator("legend").first).to_have_text("Председатель и секретарь")
        # Styled: real inputs, not the browser's defaults (the form's stylesheet is applied).
        family = await form.locator("textarea").first.evaluate("e => getComputedStyle(e).fontFamily")
        assert "monospace" not in family
        ARTIFACTS.mkdir(exist_ok=True)
        await form.screenshot(path=str(ARTIFACTS / "protocol-edit-form.png"))

        await form.locator('select[name="officer.secretary"]').select_option(member_key)
        await form.locator(f'input[name="promote[]"][value="{proposal_seq}"]').check()
        await form.locator('input[name$=".deadline"]').first.fill("до 1 февраля 2027 г.")
        await form.locator('input[name$=".responsible"]').first.fill("А.П. Петрова")
        await expect(page.locator("#edit-dirty")).to_be_visible()  # unsaved changes are flagged
        async with page.expect_navigation():
            await form.locator('button[type="submit"]').click()
        await expect(page.locator("#edit-saved")).to_have_text("Правки сохранены.")
        await expect(page.locator("#protocol-warnings")).to_have_count(0)
        document = page.locator("#protocol-document")
        await expect(document).to_contain_text("Секретарь — А.П. Петрова")
        await expect(document).to_contain_text(
            "А.П. Петрова — «Предлагаю провести пробный экзамен в феврале» (сообщение в чате)."
        )
        await expect(document).to_contain_text("Срок — до 1 февраля 2027 г. Ответственный — А.П. Петрова.")
        await screenshot(page, "protocol-saved")

        # «Утвердить и разослать» asks first; declining approves nothing.
        approve = page.locator("#protocol-approve button[type='submit']")
        await approve.click()
        assert tab.dialogs == [
            "confirm: Утвердить протокол и разослать его всем членам СМО (писем: 6)? "
            "После утверждения правка создаёт новую версию."
        ]
        async with server.runtime.db.read() as s:
            row = await s.get(MeetingProtocol, pid)
            assert row is not None and row.status == ProtocolStatus.draft
        tab.dialogs.clear()

        # Accepted, it approves and says how many letters are queued.
        tab.accept_dialogs = 1
        async with page.expect_navigation():
            await approve.click()
        await expect(page.locator(".flash-ok")).to_contain_text(
            "Протокол № 1 утверждён. Писем поставлено в очередь на отправку: 6."
        )
        await expect(page.locator("#protocol-status")).to_have_text("утверждён")
        await screenshot(page, "protocol-approved")
        assert len(tab.dialogs) == 1 and tab.page_errors == []
        await tab.close()
