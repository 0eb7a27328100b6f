"""What the post-incident review draft says: a realistic Sev2, run from its channel."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import col, select

from bot.clock import ManualClock
from bot.models import Incident, PirDraft, TimelineEvent
from tests.conftest import Harness, wait_for


@dataclass
class Story:
    """The incident and the people who ran it."""

    incident: Incident
    channel: str
    dana: str  # took command, then handed it over
    omar: str  # technical lead; no display name, so Slack gives his real name
    key_ts: str


def _run(bot: Harness, user: str, channel: str, text: str) -> str:
    # An earlier command's reply may still be on its way (on a loaded machine, "Saved.
    # Slack is slow…"): let it land first, so the reply read here is this command's.
    assert bot.ctx.wait_idle()
    before = len(bot.fake.responses)
    assert bot.command(user, channel, text).status == 200
    body = wait_for(
        lambda: bot.fake.responses[before].body if len(bot.fake.responses) > before else None,
        timeout=20,
    )
    return str(body.get("text", ""))


def _posted(bot: Harness, channel: str, text: str) -> None:
    wait_for(lambda: [m for m in bot.fake.messages(channel) if text in m.text])


def _do(bot: Harness, user: str, channel: str, command: str, posts: str) -> None:
    """Run a command that answers in the channel, and wait for its post."""
    before = len([m for m in bot.fake.messages(channel) if posts in m.text])
    assert bot.command(user, channel, command).status == 200
    wait_for(lambda: len([m for m in bot.fake.messages(channel) if posts in m.text]) > before)


def _recorded(bot: Harness, incident: Incident, text: str) -> None:
    def found() -> bool:
        with bot.db.session() as session:
            return (
                session.exec(
                    select(TimelineEvent.id).where(
                        TimelineEvent.incident_id == incident.id,
                        col(TimelineEvent.text).contains(text),
                    )
                ).first()
                is not None
            )

    wait_for(found)


def _form(bot: Harness, user: str, channel: str, command: str, values: dict[str, str]) -> None:
    fake = bot.fake
    before = len(fake.opened_views(user))
    assert bot.command(user, channel, command).status == 200
    view = wait_for(lambda: fake.opened_views(user)[before:] or None)[-1]
    delivery = bot.submit(user, view, values)
    assert delivery.status == 200 and not (delivery.json or {}).get("errors"), delivery.json


def _drafts(bot: Harness, incident: Incident) -> list[PirDraft]:
    with bot.db.session() as session:
        return list(
            session.exec(
                select(PirDraft)
                .where(PirDraft.incident_id == incident.id)
                .order_by(col(PirDraft.version))
            ).all()
        )


def _pir(bot: Harness, story: Story) -> str:
    """Generate the next draft; the uploaded file's text (checked against the stored row)."""
    before = len(bot.fake.files)
    assert "is in the channel" in _run(bot, bot.fake.alice, story.channel, "pir")
    files = list(bot.fake.files.values())
    assert len(files) == before + 1
    markdown = (files[-1].data or b"").decode()
    assert _drafts(bot, story.incident)[-1].markdown == markdown
    return markdown


def _section(markdown: str, heading: str) -> str:
    start = markdown.index(f"## {heading}\n")
    end = markdown.find("\n## ", start + 1)
    return markdown[start : end if end >= 0 else len(markdown)]


def _sev2(bot: Harness, clock: ManualClock) -> Story:
    """Declared as a Sev3 by alice, raised to Sev2, run by Dana then alice, resolved."""
    fake = bot.fake
    dana = fake.add_user("dana", real_name="Dana Scully", display_name="Dana")
    omar = fake.add_user("omar", real_name="Omar Little", display_name="")
    began = clock.now() - timedelta(minutes=12)
    incident = bot.declare(
        fake.alice,
        severity="sev3",
        title="Checkout 502s | cart retry storm",
        description="Customers get 502s at checkout\nand the cart spins",
        affected_services="checkout, cart-api",
        impact="high",
        urgency="medium",
    )
    channel = incident.channel_id
    assert channel is not None
    for person in (dana, omar, fake.bob):
        fake.join_channel(person, channel)
    _do(bot, fake.alice, channel, f"started {began:%Y-%m-%d %H:%M}", "set the start of impact")
    clock.advance(timedelta(minutes=4))
    _do(bot, dana, channel, f"role commander <@{dana}|dana>", "is now the *Incident Commander*")

    found = fake.post_user_message(
        fake.alice,
        channel,
        "p99 at 4s on <https://grafana.example.com/d/abc?a=1&amp;b=2|the checkout dashboard>,"
        " started after deploy 812 &amp; the cart retries &lt;3 per second&gt;",
    )
    fake.pin_message(fake.alice, channel, found.message.ts)
    fake.post_bot_message("Alertmanager", channel, "FIRING: checkout 5xx > 5%")
    key = fake.post_user_message(
        dana, channel, "Rolling back deploy 812: <https://github.com/acme/shop/pull/812>"
    )
    fake.add_reaction(omar, channel, key.message.ts, "pushpin")
    fake.post_user_message(
        omar,
        channel,
        f"<@{dana}> rollback at 50%, see <#{fake.incidents}|incidents>, <#{channel}>,"  # type: ignore[attr-defined]
        " <#C0ELSEWHERE> and <!subteam^S0SRE|@sre-oncall>;"
        " ping <mailto:oncall@example.com|oncall@example.com>",
        thread_ts=key.message.ts,
    )
    fake.post_user_message(
        fake.alice,
        channel,
        "error rate dropping <!channel> <!everyone|everyone> <@U0GONE|former-sre>"
        " <!date^1700000000^{date_short}|Nov 14th, 2023>",
        thread_ts=key.message.ts,
    )
    for n in range(3):
        fake.post_user_message(fake.alice, channel, f"chatter {n}")
    fake.post_user_message(fake.bob, channel, "anything I can do?")
    fake.leave_channel(fake.bob, channel)
    _recorded(bot, incident, "anything I can do?")

    clock.advance(timedelta(minutes=6))
    _do(bot, dana, channel, "severity sev2", "changed the severity")
    _do(bot, dana, channel, "priority high high", "to *P1*")
    clock.advance(timedelta(minutes=5))
    _form(
        bot,
        dana,
        channel,
        "update",
        {
            "status": "identified",
            "what_changed": "Deploy 812 removed the cart's retry budget",
            "current_impact": "About 1 in 5 checkouts fail",
            "next_steps": "Finish the rollback",
        },
    )
    _posted(bot, channel, "Status update")
    _do(
        bot,
        omar,
        channel,
        "note Cache warmed; <!here> please stop manual retries, <@U0NOBODY> &amp; all",
        "*Note* from",
    )
    _do(bot, dana, channel, f"role tech-lead <@{omar}|omar>", "is now the *Technical Lead*")

    clock.advance(timedelta(minutes=50))
    _form(
        bot,
        dana,
        channel,
        f"role commander <@{fake.alice}|alice>",
        {"known": "Rollback done; retries capped", "in_progress": "Watching", "pending": ""},
    )
    _posted(bot, channel, "taking over from")
    _do(
        bot,
        fake.alice,
        channel,
        f"action Restore the retry budget <@{omar}|omar> due in 2w",
        "added action #1",
    )
    _do(
        bot,
        fake.alice,
        channel,
        f"action Alert on cart 5xx <@{dana}|dana> due in 1w",
        "added action #2",
    )
    _do(bot, omar, channel, "action done 1", "completed action #1")
    clock.advance(timedelta(minutes=10))
    _form(
        bot,
        fake.alice,
        channel,
        "resolve",
        {
            "resolution": "Rolled back deploy 812 & capped cart retries",
            "root_cause": "Deploy 812 dropped the cart client's retry budget",
            "impact_summary": "About 18% of checkouts failed | EU and US",
        },
    )
    wait_for(lambda: (bot.incident(incident.reference) or incident).status == "resolved")
    fresh = bot.incident(incident.reference)
    assert fresh is not None
    return Story(fresh, channel, dana, omar, key.message.ts)


def test_a_resolved_sev2_reads_like_a_report(bot: Harness, clock: ManualClock) -> None:
    fake = bot.fake
    story = _sev2(bot, clock)
    before = len(fake.calls_to("users.info"))
    markdown = _pir(bot, story)
    looked_up = [call.args.get("user") for call in fake.calls_to("users.info")[before:]]
    assert len(looked_up) == len(set(looked_up))  # once per person
    assert "Draft v1, generated " in markdown

    # People by name everywhere, never as mention tokens or bare IDs.
    for raw in (fake.alice, story.dana, story.omar, "<@"):
        assert raw not in markdown
    assert "unknown user (U0NOBODY)" in markdown
    assert "| Reporter | alice |" in markdown
    assert "| Commander | alice |" in markdown
    response = _section(markdown, "Response")
    assert "- Incident Commander: Dana (" in response
    assert "- Technical Lead: Omar Little (" in response
    assert "Incident Commander from Dana to alice — known then: Rollback done" in response
    actions = _section(markdown, "Follow-up actions")
    assert "| 1 | Restore the retry budget | Omar Little |" in actions
    assert "| 2 | Alert on cart 5xx | Dana |" in actions

    # Slack markup turned into Markdown; table cells escaped.
    assert "# Post-incident review: " + story.incident.reference in markdown
    assert "| Title | Checkout 502s \\| cart retry storm |" in markdown
    assert "[the checkout dashboard](https://grafana.example.com/d/abc?a=1&b=2)" in markdown
    assert "deploy 812 & the cart retries <3 per second>" in markdown
    assert "<https://github.com/acme/shop/pull/812>" in markdown
    assert (
        f"Omar Little: Dana rollback at 50%, see #incidents, #{story.incident.channel_name},"
        " #C0ELSEWHERE and @sre-oncall; ping [masked email]"
    ) in markdown
    assert "Cache warmed; @here please stop manual retries, unknown user (U0NOBODY) & all" in (
        markdown
    )
    assert "&amp;" not in markdown and "&lt;" not in markdown
    assert "| Impact | About 18% of checkouts failed \\| EU and US |" not in markdown
    assert "- **Impact:** About 18% of checkouts failed | EU and US" in markdown

    # Severities by label, durations in one format.
    assert "| Severity and priority changes | Severity Sev3 → Sev2 (" in markdown
    assert "sev2" not in markdown and "sev3" not in markdown
    assert not re.search(r"\b\d+[hm]\b", markdown)  # no `8h`/`25m` style anywhere
    assert "| Duration | 1 h 27 min |" in markdown
    assert "Time to detect (impact start → declared): 12 min" in markdown
    assert "| Time to acknowledge | 4 min — target 1 h met |" in markdown
    assert "| Time to resolve | 1 h 27 min — target 8 h met |" in markdown


def test_the_timeline_starts_with_the_impact_and_labels_every_entry(
    bot: Harness, clock: ManualClock
) -> None:
    story = _sev2(bot, clock)
    timeline = _section(_pir(bot, story), "Timeline")
    entries = [line for line in timeline.splitlines() if line.startswith("- **")]
    # Times only, or dates and times when the story crosses midnight (UTC): the tests run
    # at any hour of the day.
    stamp = r"- \*\*(?:\d{4}-\d\d-\d\d )?\d\d:\d\d\*\* \*([^*]+)\*"
    labels = [re.match(stamp, line).group(1) for line in entries]  # type: ignore[union-attr]
    assert labels[:3] == ["Impact began", "Declared", "Impact start"]
    assert labels.index("Acknowledged") < labels.index("Role")
    for label in (
        "Key message",
        "Severity",
        "Priority",
        "Update",
        "Note",
        "Role",
        "Handoff",
        "Action added",
        "Action done",
        "Resolved",
    ):
        assert label in labels, label
    assert labels.count("Action added") == 2
    text = "\n".join(entries)
    assert "*Declared* — by alice as Sev3 (P2): Checkout 502s | cart retry storm" in text
    assert "*Acknowledged* — by Dana" in text
    assert "*Severity* — Sev3 → Sev2, by Dana" in text
    assert "*Priority* — P2 → P1 (impact high, urgency high), by Dana" in text
    assert (
        "*Update* — Dana: Identified — Deploy 812 removed the cart's retry budget — "
        "Impact: About 1 in 5 checkouts fail — Next: Finish the rollback"
    ) in text
    assert "*Action added* — #1 Restore the retry budget (owner Omar Little, due " in text
    assert "*Action done* — #1 Restore the retry budget, by Omar Little" in text
    assert "*Resolved* — by alice: Rolled back deploy 812 & capped cart retries" in text
    began = story.incident.impact_started_at
    assert began is not None
    assert entries[0] in (
        f"- **{began:%H:%M}** *Impact began*",
        f"- **{began:%Y-%m-%d %H:%M}** *Impact began*",
    )

    # The key message carries its thread; routine talk counts only people's messages.
    key = next(line for line in entries if "📌 Dana: Rolling back deploy 812" in line)
    lines = timeline.splitlines()
    at = lines.index(key)
    assert "Omar Little: Dana rollback at 50%" in lines[at + 1]
    assert lines[at + 2].endswith(
        "alice: error rate dropping @channel @everyone former-sre Nov 14th, 2023"
    )
    assert lines[at + 1].startswith("  - ")
    routine = [line for line in lines if "message" in line and "from" in line]
    counted = sum(int(re.search(r": (\d+) messages?", line).group(1)) for line in routine)  # type: ignore[union-attr]
    people = {re.search(r"from (\d+) (people|person)", line).group(1) for line in routine}  # type: ignore[union-attr]
    assert counted == 4  # alice's 3 and Bob's 1: no joins, leaves, other apps or the bot
    assert people <= {"1", "2"}
    assert "FIRING" not in timeline


def test_the_summary_is_written_from_the_record(bot: Harness, clock: ManualClock) -> None:
    fake = bot.fake
    incident = bot.declare(
        fake.alice,
        severity="sev2",
        title="Search is slow",
        description="Search takes 10 s",
        affected_services="",
    )
    channel = incident.channel_id
    assert channel is not None
    fake.post_user_message(fake.alice, channel, "looking")
    _recorded(bot, incident, "looking")
    story = Story(incident, channel, "", "", "")
    summary = _section(_pir(bot, story), "Summary")
    assert "**Search is slow**: a Sev2 (P2) software incident. Affected services: To be" in summary
    assert (
        f"The impact began and the incident was declared {incident.declared_at:%Y-%m-%d %H:%M}"
    ) in summary
    assert "It is still open (Reported)." in summary
    assert "- **Impact:** To be investigated" in summary
    assert "- **Cause:** To be investigated" in summary
    assert "- **Fix:** To be investigated" in summary
    assert "> **First description, by alice when declaring:**\n> Search takes 10 s" in summary

    resolved = _sev2(bot, clock)
    summary = _section(_pir(bot, resolved), "Summary")
    began = resolved.incident.impact_started_at
    assert began is not None
    assert (
        "**Checkout 502s | cart retry storm**: a Sev2 (P1) software incident affecting"
        " checkout, cart-api."
    ) in summary
    assert (
        f"The impact began {began:%Y-%m-%d %H:%M} UTC; the incident was declared 12 min later"
    ) in summary
    assert "It was resolved at " in summary and ", after 1 h 27 min." in summary
    assert "- **Cause:** Deploy 812 dropped the cart client's retry budget" in summary
    assert "- **Fix:** Rolled back deploy 812 & capped cart retries" in summary
    assert "> Customers get 502s at checkout\n> and the cart spins" in summary


def test_each_version_says_what_changed_since_the_previous(
    bot: Harness, clock: ManualClock
) -> None:
    fake = bot.fake
    incident = bot.declare(fake.alice, severity="sev2", title="Login errors")
    channel = incident.channel_id
    assert channel is not None
    fake.post_user_message(fake.alice, channel, "investigating")
    _recorded(bot, incident, "investigating")
    story = Story(incident, channel, "", "", "")
    first = _pir(bot, story)
    assert "Draft v1, generated" in first and "## Changes since" not in first

    second = _pir(bot, story)  # nothing happened in between
    assert "Draft v2, generated" in second and "## Changes since" not in second

    clock.advance(timedelta(minutes=20))
    _do(bot, fake.alice, channel, "note Session store full", "*Note* from")
    _do(bot, fake.alice, channel, "severity sev1", "changed the severity")
    _form(
        bot,
        fake.alice,
        channel,
        "resolve",
        {"resolution": "Flushed the store", "root_cause": "Sessions never expired"},
    )
    wait_for(lambda: (bot.incident(incident.reference) or incident).status == "resolved")
    third = _pir(bot, story)
    assert "Draft v3, generated" in third
    changes = _section(third, "Changes since v2")
    assert third.index("## Changes since v2") < third.index("## Summary")
    assert "- Overview: Severity and priority changes added; End, Duration, Severity, Status" in (
        changes
    )
    assert "- Summary: Cause, Fix filled in; updated" in changes
    assert "- Timeline: 4 entries added\n" in changes
    assert "*Note* — alice: Session store full" in changes
    assert "*Resolved* — by alice: Flushed the store" in changes
    assert "- Root cause and contributing factors: filled in" in changes
    assert "- Resolution: filled in" in changes
    assert "What went well" not in changes


def test_durations_and_dates_read_one_way(bot: Harness, clock: ManualClock) -> None:
    fake = bot.fake
    incident = bot.declare(fake.alice, severity="sev2", title="Queue backlog")
    channel = incident.channel_id
    assert channel is not None
    _do(bot, fake.alice, channel, f"role commander <@{fake.alice}|a>", "is now the *Incident")
    clock.advance(timedelta(days=2, hours=3, minutes=10))
    _form(
        bot,
        fake.alice,
        channel,
        "resolve",
        {"resolution": "Drained", "root_cause": "Stuck consumer"},
    )
    wait_for(lambda: (bot.incident(incident.reference) or incident).status == "resolved")
    markdown = _pir(bot, Story(incident, channel, "", "", ""))
    assert "| Duration | 2 d 3 h |" in markdown
    assert "| Time to acknowledge | under a minute — target 1 h met |" in markdown
    assert "| Time to resolve | 2 d 3 h — target 8 h missed |" in markdown
    assert f"It was resolved at {clock.now():%Y-%m-%d %H:%M} UTC, after 2 d 3 h." in markdown
    timeline = _section(markdown, "Timeline")
    assert "All times UTC, with dates" in timeline
    assert f"- **{incident.declared_at:%Y-%m-%d %H:%M}** *Impact began*" in timeline
    assert f"- **{clock.now():%Y-%m-%d %H:%M}** *Resolved* — by alice: Drained" in timeline


def test_a_timeline_that_comes_to_span_midnight_is_not_all_new() -> None:
    from bot.services import review_changes

    before = (
        "## Timeline\n\nAll times UTC, on 2026-11-26.\n\n"
        "- **23:52** *Declared* — by alice\n\n"
        "Routine discussion (people's other messages), summarised:\n"
        "- 23:00: 1 message from 1 person\n"
    )
    after = (
        "## Timeline\n\nAll times UTC, with dates: the incident spans more than one day.\n\n"
        "- **2026-11-26 23:52** *Declared* — by alice\n"
        "- **2026-11-27 00:12** *Note* — alice: Session store full\n\n"
        "Routine discussion (people's other messages), summarised:\n"
        "- 2026-11-26 23:00: 1 message from 1 person\n"
    )
    (change,) = review_changes.between(before, after)
    assert change.text == "Timeline: 1 entry added"
    assert change.details == ["**2026-11-27 00:12** *Note* — alice: Session store full"]


def test_another_private_incidents_channel_is_named_by_its_reference_only(
    bot: Harness,
) -> None:
    # A private incident's channel name carries its title: a public incident's draft that
    # mentions that channel, with or without the name in the mention, shows the reference.
    fake = bot.fake
    secret = bot.declare(
        fake.alice, severity="sev1", title="Payroll export leaks salaries", is_private=["private"]
    )
    assert secret.channel_id is not None and secret.channel_name is not None
    assert "payroll" in secret.channel_name
    public = bot.declare(fake.alice, severity="sev3", title="Search is slow")
    incident = bot.declare(fake.alice, severity="sev2", title="Login errors")
    channel = incident.channel_id
    assert channel is not None and public.channel_id is not None
    key = fake.post_user_message(
        fake.alice,
        channel,
        f"the other half is in <#{secret.channel_id}>, search in <#{public.channel_id}>",
    )
    fake.pin_message(fake.alice, channel, key.message.ts)
    _do(
        bot,
        fake.alice,
        channel,
        f"note tracked in <#{secret.channel_id}|{secret.channel_name}>",
        "*Note* from",
    )
    _recorded(bot, incident, "the other half is in")
    markdown = _pir(bot, Story(incident, channel, "", "", ""))
    assert "payroll" not in markdown.lower() and "salaries" not in markdown.lower()
    assert secret.channel_id not in markdown
    stand_in = f"a private incident's channel ({secret.reference})"
    assert f"the other half is in {stand_in}, search in #{public.channel_name}" in markdown
    assert f"tracked in {stand_in}" in markdown
