"""Mask secrets in text the bot writes out, such as the post-incident review draft.

The rules, and where they come from, are `bot.services.secret_rules`'s.

Every rule names the part of its match that is the secret; only that part is replaced, by
``[masked <rule id>]``, so ``password=hunter2`` becomes ``password=[masked credential]``.
A rule runs only when one of its keywords is in the text (case-insensitive), and then only
on the lines around them, which keeps masking a long transcript fast. A candidate whose
Shannon entropy is below the rule's minimum, or that is a placeholder (``${VAR}``,
``<token>``, ``****``, an example value, a marker this module wrote), is left alone.
Masking the output again changes nothing.
"""

from __future__ import annotations

import bisect
import math
import re
from collections import Counter
from collections.abc import Iterator

from bot.services.secret_rules import Rule, rules

# Characters that may continue a token after a plugin's pattern stopped matching: plugin
# patterns often match a fixed-length prefix of a longer token (Stripe, GitHub) or stop
# early (the JWT pattern ends lazily before the signature), and masking half a token
# still leaks the rest.
_TOKEN_TAIL = re.compile(r"(?:[A-Za-z0-9_+/=-]|\.(?=[A-Za-z0-9_-]))*")
# Delimiters that some plugin patterns include around the token; kept, not masked.
_LEADING_CONTEXT = re.compile(r"(?:[\s\"'=:]|[A-Za-z_][A-Za-z0-9_]*=)*")
_TRAILING_CONTEXT = re.compile(r"[\s\"']+$")

# Values that look like a secret's place but are not one: environment references,
# template slots, stars and x's, example values, and this module's own markers.
_PLACEHOLDER = re.compile(
    r"""\[masked\b.*
    | \$\{?[A-Za-z_][A-Za-z0-9_]*\}?
    | \{\{.*
    | <[^<>]*>?
    | %[A-Za-z_][A-Za-z0-9_]*%
    | \*+ | x{3,} | X{3,} | \.{3,} | …
    | (?i:redacted|null|none|nil|true|false|undefined|placeholder)
    | (?i:.*example.*)
    """,
    re.VERBOSE,
)


def shannon_entropy(value: str) -> float:
    """Bits per character of the value's character distribution."""
    if not value:
        return 0.0
    size = len(value)
    return -sum(n / size * math.log2(n / size) for n in Counter(value).values())


def _picked_span(match: re.Match[str], text: str) -> tuple[int, int]:
    """The secret's span in a plugin rule's match: a long group, else the trimmed match."""
    best: tuple[int, int] | None = None
    for index in range(1, (match.re.groups or 0) + 1):
        start, end = match.span(index)
        if start >= 0 and end - start >= 8 and (best is None or end - start > best[1] - best[0]):
            best = (start, end)
    if best is None:
        start, end = match.span()
        lead = _LEADING_CONTEXT.match(text, start, end)
        start = lead.end() if lead else start
        trail = _TRAILING_CONTEXT.search(text, start, end)
        end = trail.start() if trail else end
        best = (start, end)
    start, end = best
    if start < end:
        tail = _TOKEN_TAIL.match(text, end)
        end = tail.end() if tail else end
    return start, end


def _secret_span(rule: Rule, match: re.Match[str], text: str) -> tuple[int, int] | None:
    """Where the secret of one match lies, or None if the rule's filters let it go."""
    if not rule.groups:
        start, end = _picked_span(match, text)
    else:
        for group in rule.groups:
            start, end = match.span(group)
            if start >= 0:
                break
        else:
            return None
    secret = text[start:end]
    if not secret or (rule.placeholders and _PLACEHOLDER.fullmatch(secret)):
        return None
    if rule.entropy and shannon_entropy(secret) < rule.entropy:
        return None
    return start, end


def _keyword_windows(text: str, lowered: str, keyword: str) -> list[tuple[int, int]] | None:
    """The stretches around a keyword's hits: its line and the lines on either side.

    None where they would cover so much of the text that searching it all costs less.
    """
    found: list[tuple[int, int]] = []
    size, budget = 0, len(text) // 4
    at = lowered.find(keyword)
    while at >= 0:
        before = text.rfind("\n", 0, at)
        start = text.rfind("\n", 0, before) + 1 if before > 0 else 0
        after = text.find("\n", at + len(keyword))
        end = text.find("\n", after + 1) if after >= 0 else -1
        end = len(text) if end < 0 else end + 1
        found.append((start, end))
        size += end - start
        if size > budget:
            return None
        at = lowered.find(keyword, end)
    return found


def _windows(
    text: str, lowered: str, rule: Rule, cache: dict[str, list[tuple[int, int]] | None]
) -> list[tuple[int, int]]:
    """The stretches of text a rule searches: the lines around its keywords, or everything."""
    everything = [(0, len(text))]
    if not rule.keywords:
        return everything
    if rule.multiline or len(lowered) != len(text):  # lower() changed some lengths
        return everything if any(k in lowered for k in rule.keywords) else []
    found: list[tuple[int, int]] = []
    for keyword in rule.keywords:
        if keyword not in cache:
            cache[keyword] = _keyword_windows(text, lowered, keyword)
        windows = cache[keyword]
        if windows is None:
            return everything
        found.extend(windows)
    if sum(end - start for start, end in found) > len(text) // 4:
        return everything
    found.sort()
    merged: list[tuple[int, int]] = []
    for start, end in found:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _spans(text: str) -> Iterator[tuple[int, int, str]]:
    """Every secret's span and rule id, earlier rules winning where matches overlap."""
    lowered = text.lower()
    cache: dict[str, list[tuple[int, int]] | None] = {}
    starts: list[int] = []
    taken: list[tuple[int, int, str]] = []
    for rule in rules():
        for window_start, window_end in _windows(text, lowered, rule, cache):
            for match in rule.pattern.finditer(text, window_start, window_end):
                span = _secret_span(rule, match, text)
                if span is None:
                    continue
                start, end = span
                at = bisect.bisect_left(starts, start)
                if at > 0 and taken[at - 1][1] > start:
                    continue  # overlaps the span before it
                if at < len(starts) and starts[at] < end:
                    continue  # overlaps the span after it
                starts.insert(at, start)
                taken.insert(at, (start, end, rule.id))
    return iter(taken)


def mask_secrets(text: str) -> str:
    """The text with every detected secret replaced by ``[masked <rule id>]``."""
    pieces: list[str] = []
    position = 0
    for start, end, rule_id in _spans(text):
        pieces.append(text[position:start])
        pieces.append(f"[masked {rule_id}]")
        position = end
    if not pieces:
        return text
    pieces.append(text[position:])
    return "".join(pieces)
