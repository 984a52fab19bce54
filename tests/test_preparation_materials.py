"""Meeting materials: uploads checked by content and size, traversal-proof names, safe download
headers, http(s) links only, and who may add, remove and download them."""

from __future__ import annotations

from sqlalchemy import func, select

from server.db.models import MeetingMaterial, StoredFile
from tests.support.client import WebClient
from tests.support.factories import make_meeting
from tests.support.live import LiveServer
from tests.support.meeting_world import JSON, World
from tests.test_preparation_world import world

__all__ = ["world"]

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


async def upload(c: WebClient, meeting_id: int, title: str, name: str, data: bytes, **kw: object) -> object:
    return await c.post(
        f"/meetings/{meeting_id}/materials",
        data={"csrf_token": await c.csrf(), "title": title, "url": ""},
        files={"file": (name, data, "application/pdf")},
        **kw,  # type: ignore[arg-type]
    )


async def count(server: LiveServer, model: type) -> int:
    async with server.runtime.db.read() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def test_file_material_upload_and_download(server: LiveServer, world: World) -> None:
    meeting = await make_meeting(server.runtime.db, world.association_id)
    methodist = await world.client("methodist")
    r = await upload(methodist, meeting.id, "Программа <семинара>", "../../etc/Программа.exe", PDF)
    assert r.status_code == 303 and r.headers["location"] == f"/meetings/{meeting.id}/preparation#materials"  # type: ignore[attr-defined]
    async with server.runtime.db.read() as s:
        material = await s.scalar(select(MeetingMaterial))
        assert material is not None and material.file_id is not None
        stored = await s.get(StoredFile, material.file_id)
    assert stored is not None and stored.original_name == "Программа.pdf"  # no path, extension from content
    assert stored.content_type == "application/pdf" and "/" not in stored.storage_name

    for name in ("member", "mo_head", "methodist", "admin"):
        c = await world.client(name)
        page = (await c.get(f"/meetings/{meeting.id}")).text
        assert "Программа &lt;семинара&gt;" in page and "<семинара>" not in page, name
        r = await c.get(f"/meetings/{meeting.id}/materials/{material.id}")
        assert r.status_code == 200 and r.content == PDF, name
        assert r.headers["content-type"] == "application/pdf"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in r.headers["content-security-policy"]
        disposition = r.headers["content-disposition"]
        assert disposition.startswith("attachment;") and "filename*=UTF-8''%D0%9F%D1%80%D0%BE" in disposition

    r = await (await world.client("other_methodist")).get(
        f"/meetings/{meeting.id}/materials/{material.id}", headers=JSON
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    r = await world._clients["anonymous"].get(f"/meetings/{meeting.id}/materials/{material.id}")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    other = await make_meeting(server.runtime.db, world.association_id, title="Другое заседание")
    for url in (
        f"/meetings/{other.id}/materials/{material.id}",  # a material of another meeting
        f"/meetings/{meeting.id}/materials/424242",
        f"/meetings/424242/materials/{material.id}",
        f"/meetings/{meeting.id}/materials/99999999999999999999",
    ):
        r = await methodist.get(url, headers=JSON)
        assert r.status_code == 404, url


async def test_upload_rejections(server: LiveServer, world: World) -> None:
    meeting = await make_meeting(server.runtime.db, world.association_id)
    methodist = await world.client("methodist")
    # An executable: refused by content whatever its name, shown next to the field.
    r = await upload(
        methodist, meeting.id, "Программа", "program.pdf", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\xff\xff"
    )
    assert r.status_code == 415  # type: ignore[attr-defined]
    assert "Этот тип файла не принимается" in r.text and 'id="e-file"' in r.text  # type: ignore[attr-defined]
    r = await upload(methodist, meeting.id, "Программа", "program.pdf", b"MZ\x90\x00\x03\x00", headers=JSON)
    assert r.status_code == 415 and r.json()["error"]["code"] == "file_type_rejected"  # type: ignore[attr-defined]
    # Over the size limit (streamed past the limit, not only the declared length).
    big = b"%PDF-1.4\n" + b"0" * server.settings.upload_max_bytes
    r = await upload(methodist, meeting.id, "Большой файл", "big.pdf", big)
    assert r.status_code == 413 and "Файл слишком большой." in r.text  # type: ignore[attr-defined]
    # Both a file and a link, neither, an empty title.
    r = await methodist.post(
        f"/meetings/{meeting.id}/materials",
        data={"csrf_token": await methodist.csrf(), "title": "Оба", "url": "https://example.org/"},
        files={"file": ("a.pdf", PDF, "application/pdf")},
    )
    assert r.status_code == 422 and "Укажите либо файл, либо ссылку" in r.text
    r = await methodist.submit(f"/meetings/{meeting.id}/materials", {"title": "Ничего", "url": ""})
    assert r.status_code == 422 and "Выберите файл или укажите ссылку." in r.text
    r = await methodist.submit(
        f"/meetings/{meeting.id}/materials", {"title": "  ", "url": "https://example.org/"}
    )
    assert (
        r.status_code == 422 and "Заполните это поле." in r.text and 'value="https://example.org/"' in r.text
    )
    # Without the CSRF token nothing is read.
    r = await methodist.post(
        f"/meetings/{meeting.id}/materials", data={"title": "x"}, files={"file": ("a.pdf", PDF)}, headers=JSON
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "csrf_failed"
    assert await count(server, MeetingMaterial) == 0 and await count(server, StoredFile) == 0


async def test_link_materials_are_validated(server: LiveServer, world: World) -> None:
    meeting = await make_meeting(server.runtime.db, world.association_id)
    methodist = await world.client("methodist")
    url = f"/meetings/{meeting.id}/materials"
    for bad in (
        "javascript:alert(1)",
        "JavaScript:alert(document.cookie)",
        "data:text/html,<script>alert(1)</script>",
        "ftp://example.org/file",
        "//example.org/x",
        "https://",
        "https://example.org/a b",
        "https://example.org/\nSet-Cookie: x",
        "https://example.org/" + "a" * 2000,
    ):
        r = await methodist.submit(url, {"title": "Ссылка", "url": bad})
        assert r.status_code == 422, bad
        assert "Укажите адрес, начинающийся с http:// или https://." in r.text, bad
    r = await methodist.submit(url, {"title": "Ссылка", "url": "javascript:alert(1)"}, headers=JSON)
    assert r.status_code == 422 and "url" in r.json()["error"]["details"]["fields"]
    assert await count(server, MeetingMaterial) == 0
    r = await methodist.submit(url, {"title": "Статья", "url": "https://example.org/статья?a=1&b=2"})
    assert r.status_code == 303
    page = (await (await world.client("member")).get(f"/meetings/{meeting.id}")).text
    assert 'href="https://example.org/статья?a=1&amp;b=2" rel="noopener noreferrer nofollow"' in page
    async with server.runtime.db.read() as s:
        material = await s.scalar(select(MeetingMaterial))
    assert material is not None
    # A link has no file to download.
    r = await methodist.get(f"/meetings/{meeting.id}/materials/{material.id}", headers=JSON)
    assert r.status_code == 404


async def test_materials_role_matrix(server: LiveServer, world: World) -> None:
    # The member chairs this meeting; the mo_head is an ordinary member of it.
    meeting = await make_meeting(server.runtime.db, world.association_id, chair_id=world.ids["member"])
    clients = await world.clients()
    url = f"/meetings/{meeting.id}/materials"
    r = await clients["anonymous"].submit(url, {"title": "Гость", "url": "https://example.org/"})
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    for name in ("mo_head", "other_methodist"):
        r = await clients[name].submit(url, {"title": "Нельзя", "url": "https://example.org/"}, headers=JSON)
        assert r.status_code == 403, name
        r = await clients[name].get(f"/meetings/{meeting.id}/preparation", headers=JSON)
        assert r.status_code == 403, name
    assert await count(server, MeetingMaterial) == 0
    for name in ("member", "methodist", "admin"):  # the chair, the methodist, an administrator
        r = await clients[name].submit(url, {"title": f"От {name}", "url": "https://example.org/"})
        assert r.status_code == 303, name
        assert (await clients[name].get(f"/meetings/{meeting.id}/preparation")).status_code == 200
    async with server.runtime.db.read() as s:
        ids = list(await s.scalars(select(MeetingMaterial.id).order_by(MeetingMaterial.id)))
    assert len(ids) == 3
    r = await clients["mo_head"].submit(f"/meetings/{meeting.id}/materials/{ids[0]}/delete", {}, headers=JSON)
    assert r.status_code == 403
    r = await clients["other_methodist"].submit(
        f"/meetings/{meeting.id}/materials/{ids[0]}/delete", {}, headers=JSON
    )
    assert r.status_code == 403
    r = await clients["methodist"].submit(f"/meetings/{meeting.id}/materials/{ids[0]}/delete", {})
    assert r.status_code == 303
    r = await clients["methodist"].submit(
        f"/meetings/{meeting.id}/materials/{ids[0]}/delete", {}, headers=JSON
    )
    assert r.status_code == 404
    assert await count(server, MeetingMaterial) == 2
    # The resource-base button is only for the methodist after the meeting; here it is not ended.
    r = await clients["methodist"].submit(
        f"/meetings/{meeting.id}/materials/{ids[1]}/resource", {}, headers=JSON
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "material_not_after_meeting"
    r = await clients["member"].submit(
        f"/meetings/{meeting.id}/materials/{ids[1]}/resource", {}, headers=JSON
    )
    assert r.status_code == 403


async def test_material_goes_to_the_resource_base_after_the_meeting(server: LiveServer, world: World) -> None:
    from server.db.models import MeetingStatus
    from server.db.models.resources import Resource, ResourceStatus

    meeting = await make_meeting(server.runtime.db, world.association_id)
    methodist = await world.client("methodist")
    r = await upload(methodist, meeting.id, "Программа семинара", "Программа.pdf", PDF)
    assert r.status_code == 303  # type: ignore[attr-defined]
    r = await methodist.submit(
        f"/meetings/{meeting.id}/materials", {"title": "Статья", "url": "https://example.org/a"}
    )
    assert r.status_code == 303
    async with server.runtime.db.transaction() as s:
        ids = list(await s.scalars(select(MeetingMaterial.id).order_by(MeetingMaterial.id)))
        row = await s.get(type(meeting), meeting.id)
        assert row is not None
        row.status = MeetingStatus.ended
    page = (await methodist.get(f"/meetings/{meeting.id}/preparation")).text
    assert page.count("Добавить в базу ресурсов") == 2
    for name in ("member", "mo_head", "other_methodist"):
        r = await (await world.client(name)).submit(
            f"/meetings/{meeting.id}/materials/{ids[0]}/resource", {}, headers=JSON
        )
        assert r.status_code == 403, name
    for mid in ids:
        r = await methodist.submit(f"/meetings/{meeting.id}/materials/{mid}/resource", {})
        assert r.status_code == 303
    r = await methodist.submit(f"/meetings/{meeting.id}/materials/{ids[0]}/resource", {}, headers=JSON)
    assert r.status_code == 409 and r.json()["error"]["code"] == "material_in_resources"
    async with server.runtime.db.read() as s:
        resources = list(await s.scalars(select(Resource).order_by(Resource.id)))
        materials = list(await s.scalars(select(MeetingMaterial).order_by(MeetingMaterial.id)))
    assert [r.title for r in resources] == ["Программа семинара", "Статья"]
    assert all(
        r.status == ResourceStatus.published and r.association_id == world.association_id for r in resources
    )
    assert resources[0].file_id == materials[0].file_id and resources[1].link == "https://example.org/a"
    assert [m.resource_id for m in materials] == [r.id for r in resources]
    assert "в базе ресурсов" in (await methodist.get(f"/meetings/{meeting.id}/preparation")).text
