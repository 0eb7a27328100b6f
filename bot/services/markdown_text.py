"""Text written in Slack (mrkdwn) or kept in the record, as Markdown for a document.

Slack sends `&`, `<` and `>` as entities and wraps links, mentions and broadcasts in
`<…>` tokens; a document wants `[label](url)`, people's and channels' names, and the
characters themselves. Table cells also need `|` and line breaks escaped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

_TOKEN = re.compile(r"<([^<>\n]+)>")
_USER = re.compile(r"^@([UW][A-Z0-9]{2,})(?:\|(.*))?$", re.DOTALL)
_CHANNEL = re.compile(r"^#([CGD][A-Z0-9]{2,})(?:\|(.*))?$", re.DOTALL)
_SUBTEAM = re.compile(r"^!subteam\^([A-Z0-9]+)(?:\|(.*))?$", re.DOTALL)
_BROADCAST = re.compile(r"^!(here|channel|everyone)(?:\|.*)?$", re.DOTALL)
_SPECIAL = re.compile(r"^!([a-z_]+)(?:\^[^|]*)?(?:\|(.*))?$", re.DOTALL)
_LINK = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*:[^|\s]+)(?:\|(.*))?$", re.DOTALL)
_MENTIONED_USER = re.compile(r"<@([UW][A-Z0-9]{2,})(?:\|[^<>]*)?>")
_MENTIONED_CHANNEL = re.compile(r"<#([CGD][A-Z0-9]{2,})(?:\|([^<>]*))?>")


@dataclass(frozen=True)
class Person:
    """How a person is named in a document."""

    name: str


def unescape(text: str) -> str:
    """Slack's three entities back to their characters (`&amp;` last)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _label(text: str) -> str:
    return unescape(text).replace("[", "\\[").replace("]", "\\]")


def _url(text: str) -> str:
    return unescape(text).replace(" ", "%20").replace("(", "%28").replace(")", "%29")


@dataclass
class Names:
    """Who and which channel an ID stands for, and the conversion that uses them."""

    people: Mapping[str, Person] = field(default_factory=dict)
    channels: Mapping[str, str] = field(default_factory=dict)
    looked_up: bool = True  # whether a person missing from `people` is unknown to Slack
    # Channels this document may not name, with the words it shows instead: these win over
    # the name a mention carries in its own label.
    withheld: Mapping[str, str] = field(default_factory=dict)

    def person(self, user_id: str | None, label: str | None = None) -> str:
        """A person's name; the token's own label, or a readable fallback, when unknown."""
        if not user_id:
            return "someone"
        known = self.people.get(user_id)
        if known is not None and known.name:
            return known.name
        if label and label.strip():
            return unescape(label.strip()).lstrip("@")
        return f"unknown user ({user_id})" if self.looked_up else f"user {user_id}"

    def channel(self, channel_id: str, label: str | None = None) -> str:
        """A channel as `#name` (`#C123` when its name is unknown), or the words that stand
        in for a channel it may not name."""
        if channel_id in self.withheld:
            return self.withheld[channel_id]
        if label and label.strip():
            return "#" + unescape(label.strip()).lstrip("#")
        return "#" + (self.channels.get(channel_id) or channel_id)

    def _token(self, inner: str) -> str | None:
        match = _USER.match(inner)
        if match:
            return self.person(match.group(1), match.group(2))
        match = _CHANNEL.match(inner)
        if match:
            return self.channel(match.group(1), match.group(2))
        match = _SUBTEAM.match(inner)
        if match:
            label = (match.group(2) or "").strip()
            return "@" + (unescape(label).lstrip("@") if label else f"group {match.group(1)}")
        match = _BROADCAST.match(inner)
        if match:
            return "@" + match.group(1)
        match = _SPECIAL.match(inner)
        if match:  # a date, or another special token: Slack's own fallback text
            return unescape(match.group(2)) if match.group(2) else None
        match = _LINK.match(inner)
        if match:
            url, label = match.group(1), match.group(2)
            if url.lower().startswith("mailto:"):
                return unescape(url[len("mailto:") :])
            if label is None or unescape(label) == unescape(url):
                return f"<{_url(url)}>"
            return f"[{_label(label)}]({_url(url)})"
        return None

    def markdown(self, text: str) -> str:
        """Slack text as Markdown: links, mentions, broadcasts and entities converted."""
        if "<" not in text and "&" not in text:
            return text
        out: list[str] = []
        position = 0
        for match in _TOKEN.finditer(text):
            converted = self._token(match.group(1))
            out.append(unescape(text[position : match.start()]))
            out.append(converted if converted is not None else unescape(match.group(0)))
            position = match.end()
        out.append(unescape(text[position:]))
        return "".join(out)


def mentioned_people(texts: Iterable[str]) -> set[str]:
    """The user IDs mentioned (`<@U…>`) in some texts."""
    found: set[str] = set()
    for text in texts:
        if "<@" in text:
            found.update(_MENTIONED_USER.findall(text))
    return found


def mentioned_channels(texts: Iterable[str]) -> dict[str, str]:
    """The channel IDs mentioned (`<#C…>`), with the name a token carried ('' if none)."""
    found: dict[str, str] = {}
    for text in texts:
        if "<#" in text:
            for channel_id, name in _MENTIONED_CHANNEL.findall(text):
                if name or channel_id not in found:
                    found[channel_id] = name
    return found


def one_line(text: str, limit: int = 300) -> str:
    """Whitespace (line breaks too) collapsed, cut at `limit` characters."""
    cleaned = " ".join(text.split())
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def cell(value: object) -> str:
    """A value fit for one Markdown table cell: `|` escaped, line breaks as spaces."""
    text = " ".join(str(value if value is not None else "").split())
    return re.sub(r"(?<!\\)\|", r"\\|", text)


def quote(text: str) -> str:
    """A block quote, line by line."""
    return "\n".join(f"> {line}".rstrip() for line in text.strip().splitlines())
