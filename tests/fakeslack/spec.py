"""Slack Web API method reference data shipped with the fake (see data/README.md)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).parent / "data"
METHODS_DIR = DATA_DIR / "methods"

# Requests per minute allowed by each numbered tier.
TIER_LIMITS: Mapping[int, int] = {1: 1, 2: 20, 3: 50, 4: 100}

_TIER_RE = re.compile(r"\bTier\s*(\d)\b", re.IGNORECASE)

# Errors the fake answers although a method's reference entry does not list them: Slack
# documents msg_blocks_too_long for chat.postMessage only, and the fake holds every
# message to the same limit (see README.md), so an app stays within it whichever method
# carries the message.
UNLISTED_ERRORS: Mapping[str, frozenset[str]] = {
    "chat.update": frozenset({"msg_blocks_too_long"}),
    "chat.postEphemeral": frozenset({"msg_blocks_too_long"}),
}


@dataclass(frozen=True)
class ArgSpec:
    """One documented argument of a Web API method."""

    name: str
    required: bool
    type: str | None


@dataclass(frozen=True)
class MethodSpec:
    """What the reference says about one Web API method."""

    name: str
    args: Mapping[str, ArgSpec]
    errors: frozenset[str]
    tier: int | None
    rate_label: str

    @property
    def required_args(self) -> list[str]:
        """Names of the arguments the method requires."""
        return [a.name for a in self.args.values() if a.required]

    @property
    def per_minute(self) -> int | None:
        """Calls per minute allowed by the method's tier, None for special limits."""
        return None if self.tier is None else TIER_LIMITS.get(self.tier)

    def allows(self, error: str) -> bool:
        """Whether Slack documents `error` for this method or as a common error (or the
        fake applies a sibling method's documented check to it, UNLISTED_ERRORS)."""
        return (
            error in self.errors
            or error in common_errors()
            or error in UNLISTED_ERRORS.get(self.name, frozenset())
        )


def _load(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)


@cache
def common_errors() -> frozenset[str]:
    """Error codes any Web API method may return."""
    data: dict[str, str] = _load(DATA_DIR / "common_errors.json")
    return frozenset(data)


@cache
def method_spec(name: str) -> MethodSpec | None:
    """The reference entry for `name`, or None when the fake has no data for it."""
    if "/" in name or "\\" in name or name.startswith("."):
        return None
    path = METHODS_DIR / f"{name}.json"
    if not path.is_file():
        return None
    data = _load(path)
    args = {
        arg: ArgSpec(arg, bool(info.get("required")), info.get("type"))
        for arg, info in data.get("args", {}).items()
    }
    label = str(data.get("rate_limit", {}).get("label", ""))
    match = _TIER_RE.search(label)
    return MethodSpec(
        name=name,
        args=args,
        errors=frozenset(data.get("errors", {})),
        tier=int(match.group(1)) if match else None,
        rate_label=label,
    )


def available_methods() -> list[str]:
    """Names of every method with reference data."""
    return sorted(p.stem for p in METHODS_DIR.glob("*.json"))
