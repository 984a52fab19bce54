"""Who answers consultations: the association's experts, named by its methodists."""

from __future__ import annotations

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Role, User
from server.db.models.consultations import ConsultationExpert
from server.domain.accounts.associations import get_association
from server.domain.accounts.permissions import membership_role, require_methodist
from server.domain.year.consultations.rules import MAX_ID
from server.errors import NotFound, ValidationFailed


async def is_expert(session: AsyncSession, user: User | None, association_id: int) -> bool:
    """Methodists, named experts and administrators give expert answers."""
    if user is None:
        return False
    if user.is_admin or await membership_role(session, user, association_id) == Role.methodist:
        return True
    return bool(
        await session.scalar(
            select(
                exists().where(
                    ConsultationExpert.association_id == association_id, ConsultationExpert.user_id == user.id
                )
            )
        )
    )


async def is_manager(session: AsyncSession, user: User | None, association_id: int) -> bool:
    if user is None:
        return False
    return user.is_admin or await membership_role(session, user, association_id) == Role.methodist


async def add_expert(session: AsyncSession, user: User | None, association_id: int, expert_id: int) -> None:
    """Name a member an expert (methodists)."""
    await get_association(session, association_id)
    actor = await require_methodist(session, user, association_id)
    target = await session.get(User, expert_id) if 0 < expert_id <= MAX_ID else None
    if target is None or await membership_role(session, target, association_id) is None:
        raise ValidationFailed(details={"fields": {"user_id": "consultations_not_member"}})
    exists_already = await session.scalar(
        select(ConsultationExpert.id).where(
            ConsultationExpert.association_id == association_id, ConsultationExpert.user_id == expert_id
        )
    )
    if exists_already is None:
        session.add(
            ConsultationExpert(association_id=association_id, user_id=expert_id, named_by_id=actor.id)
        )
        await session.flush()


async def remove_expert(
    session: AsyncSession, user: User | None, association_id: int, expert_id: int
) -> None:
    await get_association(session, association_id)
    await require_methodist(session, user, association_id)
    row = await session.scalar(
        select(ConsultationExpert).where(
            ConsultationExpert.association_id == association_id, ConsultationExpert.user_id == expert_id
        )
    )
    if row is None:
        raise NotFound()
    await session.delete(row)
    await session.flush()
