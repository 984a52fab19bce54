"""Member profiles over HTTP on both databases: editing with validation, the photo re-encoded
by Pillow, the privacy matrix, and the staff summary for the annual analysis."""

from __future__ import annotations

import io

from PIL import Image
from PIL.PngImagePlugin import PngInfo
from sqlalchemy import select

from server.db.models import MemberProfile, ProfileCourse, Role, StoredFile, User
from server.domain.community.profiles import staff_summary
from tests.support.client import WebClient
from tests.support.factories import add_member, logged_in_client, make_association, make_user
from tests.support.live import LiveServer


def profile_form(**over: str) -> dict[str, str]:
    form = {
        "position": "учитель математики",
        "school": "МБОУ «Лицей № 17»",
        "subjects": "математика, информатика",
        "grades": "5–9",
        "experience_years": "12",
        "category": "highest",
        "category_date": "2024-03-15",
        "course-0-title": "Функциональная грамотность",
        "course-0-hours": "72",
        "course-0-year": "2025",
        "course-1-title": "Цифровая образовательная среда",
        "course-1-hours": "36",
        "course-1-year": "2024",
    }
    form.update(over)
    return form


async def post_profile(c: WebClient, form: dict[str, str], photo: tuple[str, bytes] | None = None) -> int:
    data = dict(form, csrf_token=await c.csrf())
    files = {"photo": (photo[0], photo[1], "application/octet-stream")} if photo else None
    return (await c.post("/profile", data=data, files=files)).status_code


def png_with_metadata(w: int = 1600, h: int = 1000) -> bytes:
    img = Image.new("RGB", (w, h), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x0131] = "GPS-at-home"  # Software
    info = PngInfo()
    info.add_text("Comment", "private note")
    buf = io.BytesIO()
    img.save(buf, format="PNG", exif=exif, pnginfo=info)
    return buf.getvalue()


async def test_profile_edit_validation_and_photo(server: LiveServer) -> None:
    db = server.runtime.db
    me = await make_user(db, "me@example.org")
    c = await logged_in_client(server, "me@example.org")
    try:
        assert (await c.get("/profile")).status_code == 200
        assert await post_profile(c, profile_form()) == 303
        async with db.read() as s:
            p = await s.scalar(select(MemberProfile).where(MemberProfile.user_id == me.id))
            courses = (await s.scalars(select(ProfileCourse).where(ProfileCourse.user_id == me.id))).all()
            user = await s.get(User, me.id)
        assert p is not None and p.experience_years == 12 and p.category.value == "highest"
        assert sorted((x.title, x.hours, x.year) for x in courses) == [
            ("Функциональная грамотность", 72, 2025),
            ("Цифровая образовательная среда", 36, 2024),
        ]
        assert user is not None and user.organisation_id is not None
        page = (await c.get(f"/people/{me.id}")).text
        assert "МБОУ «Лицей № 17»" in page and "Функциональная грамотность" in page and "высшая" in page

        # Invalid input: 422 with the field's message, nothing changed.
        for bad, text in (
            ({"experience_years": "61"}, "от 0 до 60"),
            ({"experience_years": "-1"}, "от 0 до 60"),
            ({"category": "expert"}, "Выберите значение"),
            ({"course-0-hours": "0"}, "от 1 до 1000"),
            ({"course-1-hours": "1001"}, "от 1 до 1000"),
            ({"course-0-title": ""}, "Заполните это поле"),
            ({"subjects": "x" * 301}, "Слишком длинное"),
        ):
            r = await c.post("/profile", data=dict(profile_form(**bad), csrf_token=await c.csrf()))
            assert r.status_code == 422 and text in r.text, bad
        r = await c.post("/profile", data=profile_form(experience_years="5"))  # no CSRF token
        assert r.status_code == 403
        async with db.read() as s:
            p = await s.scalar(select(MemberProfile).where(MemberProfile.user_id == me.id))
            assert p is not None and p.experience_years == 12
            assert (
                len((await s.scalars(select(ProfileCourse).where(ProfileCourse.user_id == me.id))).all()) == 2
            )

        # Removing a course row.
        assert await post_profile(c, profile_form(**{"course-1-remove": "1"})) == 303
        async with db.read() as s:
            titles = (
                await s.scalars(select(ProfileCourse.title).where(ProfileCourse.user_id == me.id))
            ).all()
        assert titles == ["Функциональная грамотность"]

        # The photo: a large PNG with EXIF and a text chunk comes back ≤ 512 px without metadata.
        assert await post_profile(c, profile_form(), ("me.png", png_with_metadata())) == 303
        r = await c.get(f"/people/{me.id}/photo")
        assert r.status_code == 200 and r.headers["content-type"] in ("image/jpeg", "image/png")
        assert r.headers["content-disposition"].startswith("inline")
        assert b"SecretCam" not in r.content and b"private note" not in r.content
        out = Image.open(io.BytesIO(r.content))
        assert max(out.size) == 512 and out.size == (512, 320)
        assert not out.getexif() and "Comment" not in out.info and "exif" not in out.info
        # Transparency is kept as PNG.
        rgba = Image.new("RGBA", (40, 30), (0, 0, 255, 128))
        buf = io.BytesIO()
        rgba.save(buf, format="PNG")
        assert await post_profile(c, profile_form(), ("t.png", buf.getvalue())) == 303
        r = await c.get(f"/people/{me.id}/photo")
        assert r.headers["content-type"] == "image/png" and Image.open(io.BytesIO(r.content)).size == (40, 30)
        # Not an image: 415, the photo is kept.
        assert await post_profile(c, profile_form(), ("evil.png", b"<svg onload=alert(1)></svg>")) == 415
        assert await post_profile(c, profile_form(), ("doc.pdf", b"%PDF-1.4\n%%EOF\n")) == 415
        assert await post_profile(c, profile_form(), ("fake.jpg", b"\xff\xd8\xff\xe0garbage" * 10)) == 415
        assert (await c.get(f"/people/{me.id}/photo")).headers["content-type"] == "image/png"
        async with db.read() as s:
            p = await s.scalar(select(MemberProfile).where(MemberProfile.user_id == me.id))
            assert p is not None and p.photo_file_id is not None
            stored = await s.get(StoredFile, p.photo_file_id)
            assert stored is not None and stored.content_type == "image/png"
        # Removing the photo.
        assert await post_profile(c, dict(profile_form(), remove_photo="1")) == 303
        assert (await c.get(f"/people/{me.id}/photo")).status_code == 404
    finally:
        await c.aclose()


async def test_profile_privacy_matrix(server: LiveServer, client: WebClient) -> None:
    db = server.runtime.db
    a = await make_association(db)
    b = await make_association(db, name="Другое СМО")
    subject = await make_user(db, "subject@example.org", last_name="Субъектова", school="Школа № 3")
    peer = await make_user(db, "peer@example.org", last_name="Коллегова")
    stranger = await make_user(db, "stranger@example.org", last_name="Чужова")
    await make_user(db, "admin@example.org", is_admin=True)
    await add_member(db, a.id, subject.id, Role.member)
    await add_member(db, b.id, subject.id, Role.member)
    await add_member(db, a.id, peer.id, Role.methodist)
    other = await make_association(db, name="Третье СМО")
    await add_member(db, other.id, stranger.id, Role.methodist)
    sc = await logged_in_client(server, "subject@example.org")
    try:
        form = profile_form(position="заместитель директора по УВР", school="Школа № 3")
        assert await post_profile(sc, form, ("p.png", png_with_metadata(100, 100))) == 303
    finally:
        await sc.aclose()
    photo = f"/people/{subject.id}/photo"
    for who, full in (("peer", True), ("admin", True), ("stranger", False)):
        c = await logged_in_client(server, f"{who}@example.org")
        try:
            r = await c.get(f"/people/{subject.id}")
            assert r.status_code == 200
            assert "Субъектова Мария Петровна" in r.text and "Школа № 3" in r.text
            for private in ("заместитель директора по УВР", "Функциональная грамотность", "высшая", photo):
                assert (private in r.text) is full, (who, private)
            assert (await c.get(photo)).status_code == (200 if full else 403), who
        finally:
            await c.aclose()
    assert (await client.get(f"/people/{subject.id}")).status_code == 303
    assert (await client.get(photo)).status_code == 303
    assert (await client.get("/profile")).status_code == 303
    c = await logged_in_client(server, "peer@example.org")
    try:
        assert (await c.get("/people/999999")).status_code == 404
        assert (await c.get("/people/999999/photo")).status_code == 404
    finally:
        await c.aclose()


async def test_staff_summary(server: LiveServer) -> None:
    db = server.runtime.db
    a = await make_association(db)
    other = await make_association(db, name="Другое СМО")
    plan = [
        ("u1", "3", "none", [("Курс А", "72")]),
        ("u2", "5", "first", []),
        ("u3", "10", "highest", [("Курс Б", "36"), ("Курс В", "16")]),
        ("u4", "20", "highest", []),
        ("u5", "21", "first", [("Курс Г", "100")]),
        ("u6", "", "none", []),
    ]
    for key, years, category, courses in plan:
        u = await make_user(db, f"{key}@example.org")
        await add_member(db, a.id, u.id, Role.member)
        c = await logged_in_client(server, f"{key}@example.org")
        try:
            form = profile_form(experience_years=years, category=category, category_date="")
            for k in list(form):
                if k.startswith("course-"):
                    del form[k]
            for i, (title, hours) in enumerate(courses):
                form.update(
                    {f"course-{i}-title": title, f"course-{i}-hours": hours, f"course-{i}-year": "2025"}
                )
            assert await post_profile(c, form) == 303
        finally:
            await c.aclose()
    nobody = await make_user(db, "noprofile@example.org")  # a member who never filled the profile
    await add_member(db, a.id, nobody.id, Role.mo_head)
    outsider = await make_user(db, "outsider@example.org")
    await add_member(db, other.id, outsider.id, Role.member)
    c = await logged_in_client(server, "outsider@example.org")
    try:
        form = profile_form(experience_years="30")
        assert await post_profile(c, form) == 303
    finally:
        await c.aclose()
    async with db.read() as s:
        summary = await staff_summary(s, a.id)
    assert summary.members == 7
    assert summary.by_category == {"none": 3, "first": 2, "highest": 2}
    assert summary.experience_bands == {
        "до 5 лет": 1,
        "5–10 лет": 1,
        "10–20 лет": 2,
        "свыше 20 лет": 1,
        "не указан": 2,
    }
    assert summary.members_with_courses == 3
    assert summary.course_hours_total == 72 + 36 + 16 + 100
