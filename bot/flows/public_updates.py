"""Public updates: written in Slack (`/incident statuspage`), approved by the business
liaison (or the commander when there is none) where the policy asks for it, and only then
published on the status page.

Saving, approving and rejecting each happen under the incident's row lock, so an approval
clicked twice (or by two people at once) publishes once. Slack is told after the commit:
what a change posts is armed in its own transaction (`effect_queue`), the approval request
too, so none is lost to a Slack outage; an update a newer one replaces has its request
edited in place.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from bot import blocks
from bot.comms_policy import STATE_LABELS
from bot.context import Context
from bot.errors import UserError
from bot.flows import incident_changes
from bot.ids import ActionId, MetadataType
from bot.models import Incident, PublicUpdate, PublicUpdateState, TimelineKind
from bot.render import Slack, mention, render
from bot.services import (
    disclosure,
    effect_queue,
    incident_queries,
    public_drafts,
    status_publication,
    timeline_entries,
)
from bot.services.public_drafts import PublicDraft
from bot.slack.gateway import SlackCallFailed
from bot.views import public_update_form as form

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Saved:
    """A saved public update: published at once or waiting for approval, the posts it owes
    Slack (`effects`) and the pending updates it replaced."""

    update_id: int
    incident_id: int
    published: bool
    effects: list[int]
    superseded: list[int]


def _approval_note(ctx: Context, session: Session, incident: Incident, author: str) -> str:
    if not ctx.policy.needs_approval(incident.severity):
        return "Published on the status page as soon as you submit it."
    who, role = public_drafts.approver_of(session, incident)
    if who is None:
        return (
            "Needs approval by the business liaison or the commander, and neither is assigned yet."
        )
    if who == author:
        return "You approve it by submitting it: published at once."
    return f"Published once {mention(who)} ({ctx.policy.role_name(role)}) approves it."


def open_form(ctx: Context, channel_id: str, user_id: str, trigger_id: str, args: str) -> None:
    """`/incident statuspage [resolved]`: the public update form, pre-filled."""
    word = args.strip().lower()
    if word not in ("", "resolved"):
        raise UserError(
            "Use `/incident statuspage` for an update, or `/incident statuspage resolved` "
            "for the pre-filled resolved one."
        )
    incident = incident_changes.incident_in(ctx, channel_id)
    assert incident.id is not None
    open_form_for(ctx, incident.id, user_id, trigger_id, resolved=word == "resolved")


def open_form_for(
    ctx: Context, incident_id: int, user_id: str, trigger_id: str, *, resolved: bool
) -> None:
    """The public update form of an incident by ID (the "resolved" offer's button too)."""
    with ctx.db.session() as session:
        incident = incident_queries.require(session, incident_id)
        status_publication.check_publishable(incident, ctx.policy.status_page)
        draft = public_drafts.prefill(session, ctx.policy, incident, resolved)
        note = _approval_note(ctx, session, incident, user_id)
        pending = public_drafts.pending(session, incident_id)
    view = form.public_update_modal(
        incident,
        ctx.policy.status_page,
        draft,
        approval_note=note,
        replaces=pending.id if pending is not None and not resolved else None,
    )
    incident_changes.open_form(ctx, trigger_id, view.to_dict())


def open_edit(ctx: Context, update_id: int, user_id: str, trigger_id: str) -> None:
    """The approver's *Edit*: the form with the pending update in it."""
    with ctx.db.session() as session:
        update = _decidable(ctx, session, update_id, user_id)
        incident = incident_queries.require(session, update.incident_id)
        draft = PublicDraft(update.status, update.title, update.message, update.components)
        note = _approval_note(ctx, session, incident, user_id)
    view = form.public_update_modal(
        incident, ctx.policy.status_page, draft, approval_note=note, replaces=update_id
    )
    incident_changes.open_form(ctx, trigger_id, view.to_dict())


def save(
    ctx: Context,
    incident_id: int,
    author: str,
    draft: PublicDraft,
    replaces: int | None,
) -> Saved:
    """Save a submitted public update (before the form closes): published at once when no
    approval is needed or the approver wrote it, else pending for the approver. Any update
    still pending is superseded by it."""
    now = ctx.clock.now()
    with ctx.db.session() as session:
        incident = incident_queries.lock(session, incident_id)
        # Here too, not only in `publish`: a pending update is public text in waiting.
        status_publication.check_publishable(incident, ctx.policy.status_page)
        needs = ctx.policy.needs_approval(incident.severity)
        approver, role = public_drafts.approver_of(session, incident)
        if needs and approver is None:
            raise UserError(
                f"{incident.reference}'s public updates need approval, and there is no "
                "business liaison or commander to give it: assign one first "
                "(`/incident role business-liaison @name`)."
            )
        superseded: list[int] = []
        for earlier in session.exec(
            select(PublicUpdate).where(
                PublicUpdate.incident_id == incident_id,
                PublicUpdate.state == PublicUpdateState.PENDING,
            )
        ).all():
            earlier.state = PublicUpdateState.SUPERSEDED
            earlier.updated_at = now
            session.add(earlier)
            assert earlier.id is not None
            superseded.append(earlier.id)
        update = PublicUpdate(
            incident_id=incident_id,
            status=draft.status,
            title=draft.title,
            message=draft.message,
            components=draft.components,
            author_id=author,
            approver_id=approver if needs else None,
            replaces_id=replaces,
            created_at=now,
            updated_at=now,
        )
        session.add(update)
        session.flush()
        assert update.id is not None
        publish_now = not needs or approver == author
        if publish_now:
            effects = _publish(ctx, session, incident, update, author, now)
        else:
            timeline_entries.record(
                session,
                incident_id,
                TimelineKind.PUBLIC_UPDATE,
                now=now,
                actor=author,
                text=f"Status page update written, waiting for approval: {draft.title}",
                data={"update_id": update.id, "outcome": "pending"},
                dedupe_key=f"public-update:{update.id}:pending",
            )
            effects = [_approval_request(ctx, session, update, author, approver, role, now)]
        return Saved(update.id, incident_id, publish_now, effects, superseded)


def _approval_request(
    ctx: Context,
    session: Session,
    update: PublicUpdate,
    author: str,
    approver: str | None,
    role: str,
    now: datetime,
) -> int:
    """The request to the approver, with its buttons: a post owed to the channel, whose
    message is recorded on the update when it lands (`approval_channel`, `approval_ts`)."""
    assert update.id is not None
    text = render(
        "public_update_request.j2",
        update=update,
        author=author,
        approver=approver,
        role_name=ctx.policy.role_name(role),
        labels=STATE_LABELS,
    )
    return effect_queue.post(
        session,
        update.incident_id,
        to=effect_queue.CHANNEL,
        text=text,
        now=now,
        kind=MetadataType.PUBLIC_APPROVAL,
        blocks=blocks.as_dicts(form.approval_blocks(text, update.id)),
        public_update_id=update.id,
    )


def _publish(
    ctx: Context,
    session: Session,
    incident: Incident,
    update: PublicUpdate,
    actor: str,
    now: datetime,
) -> list[int]:
    update.decided_by = actor
    update.decided_at = now
    status_publication.publish(
        session,
        incident=incident,
        draft=update,
        actor=actor,
        now=now,
        page=ctx.policy.status_page,
    )
    assert incident.id is not None
    text = render("public_update_published.j2", update=update, actor=actor, labels=STATE_LABELS)
    return [effect_queue.post(session, incident.id, to=effect_queue.CHANNEL, text=text, now=now)]


def after_save(ctx: Context, saved: Saved, author: str) -> None:
    """Tell Slack about a saved update: the requests of the updates it replaced settled,
    then the approval request, or the published update."""
    if saved.superseded:
        with ctx.db.session() as session:
            replaced = [session.get(PublicUpdate, update_id) for update_id in saved.superseded]
        what = "published" if saved.published else "waiting for approval"
        outcome = Slack(f"Replaced by a newer version from {mention(author)}, {what} (below).")
        for row in replaced:
            if row is not None:
                _settle_request(ctx, row, outcome)
    # The status page saw the commit (`status_page_changes`); Slack is told here.
    incident_changes.publish(ctx, saved.effects)


def _decidable(ctx: Context, session: Session, update_id: int, user_id: str) -> PublicUpdate:
    """The pending update `user_id` may decide on, or a clear refusal."""
    update = session.get(PublicUpdate, update_id)
    if update is None:
        raise UserError("That public update is not known any more.")
    if update.state == PublicUpdateState.PUBLISHED:
        by = mention(update.decided_by)
        raise UserError(f"This update is already on the status page (approved by {by}).")
    if update.state == PublicUpdateState.REJECTED:
        raise UserError(f"This update was rejected by {mention(update.decided_by)}.")
    if update.state == PublicUpdateState.SUPERSEDED:
        raise UserError("This update was replaced by a newer one: decide on that one.")
    incident = incident_queries.require(session, update.incident_id)
    approver, role = public_drafts.approver_of(session, incident)
    if user_id != approver:
        who = mention(approver) if approver else "the business liaison or the commander"
        raise UserError(
            f"Only {who} ({ctx.policy.role_name(role)}) can approve, edit or reject this "
            "public update."
        )
    return update


def decide(ctx: Context, update_id: int, user_id: str, *, approve: bool) -> None:
    """*Approve* (publish) or *Reject* a pending public update, once."""
    now = ctx.clock.now()
    effects: list[int] = []
    refusal: UserError | None = None
    with ctx.db.session() as session:
        update = session.get(PublicUpdate, update_id)
        if update is None:
            raise UserError("That public update is not known any more.")
        incident = incident_queries.lock(session, update.incident_id)
        session.refresh(update)
        try:
            update = _decidable(ctx, session, update_id, user_id)
        except UserError as exc:
            if update.state == PublicUpdateState.PENDING:
                raise  # not this person's to decide
            refusal = exc  # decided already (a second click): the request shows it below
        else:
            if approve:
                effects = _publish(ctx, session, incident, update, user_id, now)
            else:
                effects = _reject(session, incident, update, user_id, now)
    _settle_request(ctx, update, _outcome(update))
    if refusal is not None:
        raise refusal
    incident_changes.publish(ctx, effects)


def _reject(
    session: Session, incident: Incident, update: PublicUpdate, actor: str, now: datetime
) -> list[int]:
    assert incident.id is not None
    update.state = PublicUpdateState.REJECTED
    update.decided_by, update.decided_at, update.updated_at = actor, now, now
    session.add(update)
    timeline_entries.record(
        session,
        incident.id,
        TimelineKind.PUBLIC_UPDATE,
        now=now,
        actor=actor,
        text=f"Status page update rejected: {update.title}",
        data={"update_id": update.id, "outcome": "rejected"},
        dedupe_key=f"public-update:{update.id}:rejected",
    )
    text = render("public_update_rejected.j2", update=update, actor=actor)
    return [effect_queue.post(session, incident.id, to=effect_queue.CHANNEL, text=text, now=now)]


def _outcome(update: PublicUpdate) -> Slack:
    if update.state == PublicUpdateState.PUBLISHED:
        return Slack(f"Approved and published by {mention(update.decided_by)}.")
    if update.state == PublicUpdateState.REJECTED:
        return Slack(f"Rejected by {mention(update.decided_by)}.")
    return Slack("Replaced by a newer version.")


def _settle_request(ctx: Context, update: PublicUpdate, outcome: Slack) -> None:
    """Edit the approval request in place: the decision instead of the buttons."""
    if not (update.approval_channel and update.approval_ts):
        return
    text = render("public_update_settled.j2", update=update, outcome=outcome)
    try:
        ctx.slack.update_message(
            update.approval_channel,
            update.approval_ts,
            text=text,
            blocks=blocks.as_dicts(blocks.text_blocks(text)),
        )
    except SlackCallFailed as exc:  # the decision stands; the old buttons refuse politely
        log.warning("could not edit the approval request of public update %s: %s", update.id, exc)


def resolved_offer(session: Session, incident: Incident, now: datetime) -> list[int]:
    """On resolve: offer the pre-filled "Resolved" public update, if the incident is on the
    status page and not shown resolved there yet."""
    if incident.id is None or not disclosure.may_publish(incident):
        return []
    public = status_publication.status_incident_of(session, incident.id)
    if public is None or public.resolved_at is not None:
        return []
    text = render("public_update_offer.j2", incident=incident)
    button = {
        "action_id": str(ActionId.PUBLIC_WRITE),
        "label": "Write the resolved update",
        "value": f"{incident.id}:resolved",
    }
    return [
        effect_queue.post(
            session, incident.id, to=effect_queue.CHANNEL, text=text, now=now, button=button
        )
    ]
