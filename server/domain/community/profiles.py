"""Member profiles: editing one's own, reading others' within the privacy rule, the photo's
re-encoding, and the staff summary for the annual analysis (7.2).

Privacy: the person themself, site administrators and members of a common association see
the whole profile; every other logged-in person sees the name and the school only (no
position, subjects, experience, category, courses or photo). Anonymous visitors see nothing.
"""

from __future__ import annotations

import asyncio
import io
import threading
import warnings
from dataclasses import dataclass, field
from datetime import date

from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from server.db.models.accounts import Organisation, User
from server.db.models.associations import Association, Membership
from server.db.models.files import StoredFile
from server.db.models.profiles import MemberProfile, ProfileCourse, QualificationCategory
from server.db.types import utcnow
from server.domain.accounts.accounts import find_or_create_organisation
from server.domain.accounts.permissions import require_login
from server.errors import Forbidden, NotFound
from server.files import IMAGES, FileRejected, save_bytes, sniff
from server.settings import Settings

PHOTO_MAX_SIDE = 512
PHOTO_MAX_UPLOAD = 5 * 1024 * 1024
PHOTO_MAX_PIXELS = 40_000_000  # refuse decompression bombs before decoding

CATEGORY_KEYS = ("none", "first", "highest")
BAND_UNDER_5 = "до 5 лет"
BAND_5_10 = "5–10 лет"
BAND_10_20 = "10–20 лет"
BAND_OVER_20 = "свыше 20 лет"
BAND_UNKNOWN = "не указан"
BANDS = (BAND_UNDER_5, BAND_5_10, BAND_10_20, BAND_OVER_20, BAND_UNKNOWN)


def experience_band(years: int | None) -> str:
    """0–4 «до 5 лет», 5–9 «5–10 лет», 10–20 «10–20 лет», 21+ «свыше 20 лет», None «не указан»."""
    if years is None:
        return BAND_UNKNOWN
    if years < 5:
        return BAND_UNDER_5
    if years < 10:
        return BAND_5_10
    if years <= 20:
        return BAND_10_20
    return BAND_OVER_20


@dataclass(frozen=True, slots=True)
class StaffSummary:
    members: int
    by_category: dict[str, int]  # none / first / highest
    experience_bands: dict[str, int]  # BANDS, in that order
    members_with_courses: int
    course_hours_total: int


async def staff_summary(session: AsyncSession, association_id: int) -> StaffSummary:
    """The association's members (every role) by qualification category and experience, and
    their professional-development courses (all years, as recorded in the profiles)."""
    rows = (
        await session.execute(
            select(Membership.user_id, MemberProfile.category, MemberProfile.experience_years)
            .outerjoin(MemberProfile, MemberProfile.user_id == Membership.user_id)
            .where(Membership.association_id == association_id)
        )
    ).all()
    by_category = dict.fromkeys(CATEGORY_KEYS, 0)
    bands = dict.fromkeys(BANDS, 0)
    for _, category, years in rows:
        by_category[(category or QualificationCategory.none).value] += 1
        bands[experience_band(years)] += 1
    members_with_courses, hours = (
        await session.execute(
            select(
                func.count(func.distinct(ProfileCourse.user_id)),
                func.coalesce(func.sum(ProfileCourse.hours), 0),
            )
            .join(Membership, Membership.user_id == ProfileCourse.user_id)
            .where(Membership.association_id == association_id)
        )
    ).one()
    return StaffSummary(
        members=len(rows),
        by_category=by_category,
        experience_bands=bands,
        members_with_courses=int(members_with_courses or 0),
        course_hours_total=int(hours or 0),
    )


async def shares_association(session: AsyncSession, a_id: int, b_id: int) -> bool:
    mine, theirs = aliased(Membership), aliased(Membership)
    found = await session.scalar(
        select(mine.id)
        .join(theirs, theirs.association_id == mine.association_id)
        .where(mine.user_id == a_id, theirs.user_id == b_id)
        .limit(1)
    )
    return found is not None


async def sees_details(session: AsyncSession, viewer: User, subject_id: int) -> bool:
    if viewer.is_admin or viewer.id == subject_id:
        return True
    return await shares_association(session, viewer.id, subject_id)


@dataclass(slots=True)
class ProfileView:
    user_id: int
    full_name: str
    school: str
    detailed: bool
    is_self: bool
    position: str = ""
    profile: MemberProfile | None = None
    courses: list[ProfileCourse] = field(default_factory=list)
    associations: list[Association] = field(default_factory=list)  # the ones the viewer shares

    @property
    def has_photo(self) -> bool:
        return self.detailed and self.profile is not None and self.profile.photo_file_id is not None


async def _school(session: AsyncSession, user: User) -> str:
    if user.organisation_id is None:
        return ""
    return (
        await session.scalar(select(Organisation.name).where(Organisation.id == user.organisation_id)) or ""
    )


async def load_profile(
    session: AsyncSession, user_id: int
) -> tuple[MemberProfile | None, list[ProfileCourse]]:
    profile = await session.scalar(select(MemberProfile).where(MemberProfile.user_id == user_id))
    courses = list(
        (
            await session.scalars(
                select(ProfileCourse)
                .where(ProfileCourse.user_id == user_id)
                .order_by(ProfileCourse.position, ProfileCourse.id)
            )
        ).all()
    )
    return profile, courses


async def view_profile(session: AsyncSession, viewer: User | None, user_id: int) -> ProfileView:
    viewer = require_login(viewer)
    person = await session.get(User, user_id)
    if person is None or not person.is_active:
        raise NotFound()
    view = ProfileView(
        user_id=person.id,
        full_name=person.full_name,
        school=await _school(session, person),
        detailed=await sees_details(session, viewer, person.id),
        is_self=viewer.id == person.id,
    )
    if not view.detailed:
        return view
    view.position = person.position
    view.profile, view.courses = await load_profile(session, person.id)
    mine, theirs = aliased(Membership), aliased(Membership)
    view.associations = list(
        (
            await session.scalars(
                select(Association)
                .join(theirs, theirs.association_id == Association.id)
                .join(mine, mine.association_id == Association.id)
                .where(theirs.user_id == person.id, mine.user_id == viewer.id)
                .order_by(Association.name)
            )
        ).all()
    )
    return view


async def photo_for(session: AsyncSession, viewer: User | None, user_id: int) -> StoredFile:
    """The stored photo, for those who may see the whole profile (others: 403; none: 404)."""
    view = await view_profile(session, viewer, user_id)
    if not view.detailed:
        raise Forbidden()
    if not view.has_photo or view.profile is None or view.profile.photo_file_id is None:
        raise NotFound()
    stored = await session.get(StoredFile, view.profile.photo_file_id)
    if stored is None:
        raise NotFound()
    return stored


_DECODING = threading.BoundedSemaphore(2)  # decoded pixels take memory: two photos at a time


async def decode_in_thread(data: bytes) -> tuple[bytes, str]:
    """``reencode_photo`` in a worker thread (a large image takes the CPU for a while), at most
    two at a time in this process."""

    def bounded() -> tuple[bytes, str]:
        with _DECODING:
            return reencode_photo(data)

    return await asyncio.to_thread(bounded)


def reencode_photo(data: bytes) -> tuple[bytes, str]:
    """Decode the image and write it anew: ≤ 512×512, no metadata (EXIF, text chunks, ICC),
    PNG when it has transparency, JPEG otherwise. Returns (bytes, extension)."""
    kind = sniff(data)
    if kind is None or kind not in IMAGES:
        raise FileRejected(details={"field": "photo"})
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                if img.width * img.height > PHOTO_MAX_PIXELS:
                    raise FileRejected(details={"field": "photo"})
                if img.format == "JPEG":  # decode at a reduced scale: the result is ≤ 512 px anyway
                    img.draft("RGB", (PHOTO_MAX_SIDE * 2, PHOTO_MAX_SIDE * 2))
                img.seek(0)
                img.load()
                picture = ImageOps.exif_transpose(img)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError, Warning) as exc:
        raise FileRejected(details={"field": "photo"}) from exc
    picture.thumbnail((PHOTO_MAX_SIDE, PHOTO_MAX_SIDE), Image.Resampling.LANCZOS)
    has_alpha = picture.mode in ("RGBA", "LA") or (picture.mode == "P" and "transparency" in picture.info)
    out = io.BytesIO()
    if has_alpha:
        rgba = picture.convert("RGBA")
        fresh = Image.new("RGBA", rgba.size)  # a new image: nothing of the original's info survives
        fresh.paste(rgba)
        fresh.save(out, format="PNG", optimize=True)
        return out.getvalue(), "png"
    rgb = picture.convert("RGB")
    fresh = Image.new("RGB", rgb.size)
    fresh.paste(rgb)
    fresh.save(out, format="JPEG", quality=88, optimize=True)
    return out.getvalue(), "jpg"


@dataclass(frozen=True, slots=True)
class CourseInput:
    title: str
    hours: int
    year: int


@dataclass(frozen=True, slots=True)
class ProfileInput:
    position: str
    school: str
    subjects: str
    grades: str
    experience_years: int | None
    category: QualificationCategory
    category_date: date | None
    courses: list[CourseInput]


async def update_profile(
    session: AsyncSession,
    settings: Settings,
    user: User | None,
    data: ProfileInput,
    *,
    photo: tuple[bytes, str] | None = None,
    photo_name: str = "photo",
    remove_photo: bool = False,
) -> MemberProfile:
    """Save the acting user's own profile (there is no way to edit someone else's).

    ``photo`` is already re-encoded (``await decode_in_thread(data)``: (bytes, extension)).
    """
    user = require_login(user)
    person = await session.get(User, user.id)
    if person is None:
        raise NotFound()
    person.position = data.position
    org = await find_or_create_organisation(session, data.school)
    person.organisation_id = org.id if org else None
    profile = await session.scalar(select(MemberProfile).where(MemberProfile.user_id == person.id))
    if profile is None:
        profile = MemberProfile(user_id=person.id)
        session.add(profile)
    profile.subjects = data.subjects
    profile.grades = data.grades
    profile.experience_years = data.experience_years
    profile.category = data.category
    profile.category_date = data.category_date if data.category != QualificationCategory.none else None
    profile.updated_at = utcnow()
    if photo is not None:
        encoded, ext = photo
        stem = photo_name.rsplit(".", 1)[0] or "photo"
        stored = await save_bytes(
            session, settings, encoded, filename=f"{stem}.{ext}", allowed=IMAGES, user=person, field="photo"
        )
        profile.photo_file_id = stored.id
    elif remove_photo:
        profile.photo_file_id = None
    for old in (await session.scalars(select(ProfileCourse).where(ProfileCourse.user_id == person.id))).all():
        await session.delete(old)
    for i, course in enumerate(data.courses):
        session.add(
            ProfileCourse(
                user_id=person.id, position=i, title=course.title, hours=course.hours, year=course.year
            )
        )
    await session.flush()
    return profile
