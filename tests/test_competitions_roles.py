"""The role matrix of competitions: guest, member of another association, member, school-MO
head, methodist, administrator — for every action; bad ids are 404."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from server import clock
from server.db.models import Competition, CompetitionCriterion, Role
from tests.support.client import WebClient
from tests.support.factories import add_member, logged_in_client, make_association, make_user
from tests.support.live import LiveServer
from tests.test_competitions_flow import PDF, call_form, upload_entry


async def test_competition_role_matrix(server: LiveServer, client: WebClient) -> None:
    db = server.runtime.db
    assoc = await make_association(db)
    other = await make_association(db, name="Другое СМО")
    roles = {"member": Role.member, "mo_head": Role.mo_head, "methodist": Role.methodist}
    for key, role in roles.items():
        u = await make_user(db, f"{key}@example.org", last_name=key.capitalize())
        await add_member(db, assoc.id, u.id, role)
    jur = await make_user(db, "juror@example.org", last_name="Жюри")
    await add_member(db, assoc.id, jur.id, Role.member)
    out = await make_user(db, "outsider@example.org")
    await add_member(db, other.id, out.id, Role.methodist)
    await make_user(db, "admin@example.org", is_admin=True)
    cl = {
        k: await logged_in_client(server, f"{k}@example.org") for k in (*roles, "outsider", "admin", "juror")
    }
    try:
        base = f"/associations/{assoc.id}/competitions"
        expect_list = {"member": 200, "mo_head": 200, "methodist": 200, "admin": 200, "outsider": 403}
        expect_new = {"member": 403, "mo_head": 403, "methodist": 200, "admin": 200, "outsider": 403}
        for who in expect_list:
            assert (await cl[who].get(base)).status_code == expect_list[who], who
            assert (await cl[who].get(base + "/new")).status_code == expect_new[who], who
        assert (await client.get(base)).status_code == 303  # guest -> login
        assert (await client.get("/associations/999999/competitions")).status_code == 404
        assert (await cl["member"].get("/associations/999999/competitions")).status_code == 404
        # Announcing: methodist and admin only.
        for who in ("member", "mo_head", "outsider"):
            assert (await cl[who].submit(base + "/new", call_form([jur.id]))).status_code == 403, who
        r = await cl["admin"].submit(base + "/new", call_form([jur.id], title="Конкурс администратора"))
        assert r.status_code == 303
        r = await cl["methodist"].submit(base + "/new", call_form([jur.id]))
        assert r.status_code == 303
        cid = int(r.headers["location"].rsplit("/", 1)[1])
        # CSRF is checked.
        r = await cl["methodist"].post(base + "/new", data=call_form([jur.id]))
        assert r.status_code == 403
        # The page.
        for who, status in (
            ("member", 200),
            ("mo_head", 200),
            ("methodist", 200),
            ("admin", 200),
            ("outsider", 403),
        ):
            assert (await cl[who].get(f"/competitions/{cid}")).status_code == status, who
        assert (await client.get(f"/competitions/{cid}")).status_code == 303
        assert (await cl["member"].get("/competitions/999999")).status_code == 404
        # Entries: any member of the association (methodists too), nobody else.
        for who, status in (("member", 303), ("mo_head", 303), ("methodist", 303), ("outsider", 403)):
            assert await upload_entry(cl[who], cid, f"Работа {who}", PDF) == status, who
        async with db.transaction() as s:
            await s.execute(
                update(Competition)
                .where(Competition.id == cid)
                .values(entries_until=clock.now() - timedelta(seconds=1))
            )
            crit = (
                await s.scalars(
                    select(CompetitionCriterion.id).where(CompetitionCriterion.competition_id == cid)
                )
            ).all()
        page = (await cl["juror"].get(f"/competitions/{cid}")).text
        eid = int(page.split('id="entry-')[1].split('"')[0])
        scores = {f"c{c}": "1" for c in crit}
        for who, status in (
            ("member", 403),
            ("methodist", 403),
            ("admin", 403),
            ("outsider", 403),
            ("juror", 303),
        ):
            r = await cl[who].submit(f"/competitions/{cid}/entries/{eid}/scores", scores)
            assert r.status_code == status, who
        assert (
            await cl["juror"].submit(f"/competitions/{cid}/entries/999999/scores", scores)
        ).status_code == 404
        for who in ("member", "mo_head", "outsider"):
            assert (await cl[who].submit(f"/competitions/{cid}/publish")).status_code == 403, who
        assert (await client.post(f"/competitions/{cid}/publish")).status_code in (303, 403)
        assert (await cl["admin"].submit(f"/competitions/{cid}/publish")).status_code == 303
        # After the results every member may open the entries; outsiders still not.
        assert (await cl["mo_head"].get(f"/competitions/entries/{eid}/file")).status_code == 200
        assert (await cl["outsider"].get(f"/competitions/entries/{eid}/file")).status_code == 403
        assert (await client.get(f"/competitions/entries/{eid}/file")).status_code == 303
        assert (await client.get(f"/competitions/entries/{eid}/certificate.pdf")).status_code == 303
        assert (await cl["admin"].get(f"/competitions/entries/{eid}/certificate.pdf")).status_code == 200
    finally:
        for c in cl.values():
            await c.aclose()
