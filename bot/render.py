"""Text people read: Jinja templates rendered with Slack escaping.

Every value a template prints is escaped for Slack mrkdwn (`&`, `<`, `>`), so user text can
never become a mention, a broadcast (`<!channel>`, `<!here>`, `<!everyone>`), a user-group
ping or a disguised link. Only `Slack` values (the bot's own mention and link tokens, built
by the filters below from validated IDs and URLs) pass through unescaped.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2

TEMPLATES_DIR = Path(__file__).parent / "templates"

_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
_GROUP_ID = re.compile(r"^S[A-Z0-9]{2,}$")
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
TRUNCATION_MARK = "… (truncated)"
MAX_ESCAPE = len("&amp;")
MAX_TOKEN = 1000  # the longest Slack token a cut looks back for (a link with a long URL)
# The start of a Slack token that is not closed before the end of the text.
_OPEN_TOKEN = re.compile(r"<(?:[@#!]|https?://|mailto:)[^>]*$")


class Slack(str):
    """A string the bot built itself from trusted parts: printed as is."""

    __slots__ = ()


def escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _finalize(value: Any) -> Any:
    if isinstance(value, Slack):
        return value
    if value is None:
        return ""
    if isinstance(value, str):
        return escape(value)
    return escape(str(value))


def mention(target: str | None) -> Slack:
    """A mention token for a user, user group or channel ID (others are shown escaped)."""
    if not target:
        return Slack("nobody")
    if _USER_ID.match(target):
        return Slack(f"<@{target}>")
    if _GROUP_ID.match(target):
        return Slack(f"<!subteam^{target}>")
    if _CHANNEL_ID.match(target):
        return Slack(f"<#{target}>")
    return Slack(escape(target))


def mentions(targets: list[str]) -> Slack:
    """Several mentions, space-separated (names that are not IDs are shown escaped)."""
    return Slack(" ".join(mention(target) for target in targets) or "nobody")


def link(url: str | None, label: str) -> Slack:
    """A link with an escaped label; only http(s) URLs become links."""
    if not url or not url.startswith(("https://", "http://")) or any(c in url for c in "<>| "):
        return Slack(escape(label))
    return Slack(f"<{url}|{escape(label)}>")


def slack_date(moment: datetime | None, fmt: str = "{date_short_pretty} at {time}") -> Slack:
    """A date Slack shows in each reader's own timezone, with a UTC fallback."""
    if moment is None:
        return Slack("unknown")
    fallback = moment.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%d %H:%M UTC")
    return Slack(f"<!date^{int(moment.timestamp())}^{fmt}|{fallback}>")


def utc(moment: datetime | None) -> str:
    """A plain UTC timestamp (for text that is not mrkdwn, such as topics)."""
    if moment is None:
        return "unknown"
    return moment.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%d %H:%M UTC")


def truncate(text: str, limit: int) -> str:
    """Cut text to `limit` characters, marking the cut.

    The cut never splits an escape (`&amp;`) or a Slack token (a mention, a channel, a
    date or a link: `<@U…>`, `<#C…|name>`, `<!date^…>`, `<https://…|label>`): it moves back
    to before it, so what is left still reads and renders as it should.
    """
    if len(text) <= limit:
        return text
    head = text[: max(limit - len(TRUNCATION_MARK), 0)]
    amp = head.rfind("&")
    if amp != -1 and len(head) - amp < MAX_ESCAPE and ";" not in head[amp:]:
        head = head[:amp]
    token = _OPEN_TOKEN.search(head, max(len(head) - MAX_TOKEN, 0))
    if token is not None:
        head = head[: token.start()]
    return head + TRUNCATION_MARK


def clip(text: str, limit: int) -> str:
    """A short quote of what someone typed, cut to `limit` with a visible "…"."""
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def quote(text: str) -> Slack:
    """User text as a mrkdwn block quote, escaped."""
    lines = escape(text).splitlines() or [""]
    return Slack("\n".join(f">{line}" for line in lines))


def _environment(extra_dir: Path | None) -> jinja2.Environment:
    loaders: list[jinja2.BaseLoader] = []
    if extra_dir is not None:
        loaders.append(jinja2.FileSystemLoader(str(extra_dir)))
    loaders.append(jinja2.FileSystemLoader(str(TEMPLATES_DIR)))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        undefined=jinja2.StrictUndefined,
        finalize=_finalize,
        # The output is Slack mrkdwn, not HTML: _finalize does Slack's escaping instead.
        autoescape=False,  # noqa: S701
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters["mention"] = mention
    env.filters["link"] = link
    env.filters["mentions"] = mentions
    env.filters["date"] = slack_date
    env.filters["utc"] = utc
    env.filters["quote"] = quote
    env.filters["truncate_text"] = truncate
    return env


@lru_cache(maxsize=8)
def environment(extra_dir: Path | None = None) -> jinja2.Environment:
    """The Jinja environment (cached per templates folder)."""
    return _environment(extra_dir)


def render(name: str, *, templates_dir: Path | None = None, **context: Any) -> str:
    """Render `bot/templates/<name>` (or a team's override of it) to Slack text."""
    return environment(templates_dir).get_template(name).render(**context).strip()


@lru_cache(maxsize=1)
def document_environment() -> jinja2.Environment:
    """The environment for documents that are not Slack text: HTML pages and email parts
    (`*.html.j2`), Atom feeds (`*.xml.j2`), all autoescaped, and plain text (`*.txt.j2`),
    which is never shown as markup."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(disabled_extensions=("txt.j2",), default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["utc"] = utc
    env.filters["clip"] = clip
    return env


def render_document(name: str, **context: Any) -> str:
    """Render `bot/templates/<name>`: HTML and XML autoescaped, plain text as is."""
    return document_environment().get_template(name).render(**context)
