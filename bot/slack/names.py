"""Channel names that obey Slack's rules: lowercase a-z, 0-9, `-` and `_`, at most 80."""

from __future__ import annotations

import re
import unicodedata

MAX_LENGTH = 80
_NOT_ALLOWED = re.compile(r"[^a-z0-9]+")


def slugify(text: str) -> str:
    """Reduce text to a-z, 0-9 and single hyphens (accents folded, the rest dropped)."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return _NOT_ALLOWED.sub("-", folded.lower()).strip("-")


def channel_name(reference: str, title: str, attempt: int = 1) -> str:
    """`inc-yyyymmdd-nnn-<title-slug>`, with `-N` appended on the N-th attempt (N > 1)."""
    prefix = slugify(reference)
    suffix = f"-{attempt}" if attempt > 1 else ""
    room = MAX_LENGTH - len(prefix) - len(suffix) - 1
    slug = slugify(title)[: max(room, 0)].strip("-")
    name = f"{prefix}-{slug}" if slug else prefix
    return f"{name}{suffix}"[:MAX_LENGTH]
