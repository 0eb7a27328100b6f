"""The `/incident` subcommand registry: each entry carries its own help line."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from bot.context import Context


@dataclass(frozen=True)
class Invocation:
    """One `/incident` call, parsed."""

    user_id: str
    channel_id: str
    trigger_id: str
    name: str
    args: str
    respond: Callable[[str], None]


Runner = Callable[[Context, Invocation], None]


@dataclass(frozen=True)
class Subcommand:
    """A subcommand: its name, usage, help line and what runs it."""

    name: str
    usage: str
    help: str
    run: Runner
    aliases: tuple[str, ...] = ()
    # Whether it may open a form with the command's trigger_id (which Slack honours for
    # 3 s), always or given its arguments: then it runs on the form pool, never behind a
    # backlog of other work; other work stays off that pool.
    opens_form: bool | Callable[[str], bool] = False

    def may_open_form(self, args: str) -> bool:
        """Whether this call (with `args`) may open a form."""
        return self.opens_form(args) if callable(self.opens_form) else self.opens_form


@dataclass
class Registry:
    """Subcommands by name (and alias), in registration order."""

    _entries: dict[str, Subcommand] = field(default_factory=dict)
    _names: dict[str, str] = field(default_factory=dict)

    def add(self, entry: Subcommand) -> None:
        """Register a subcommand; a name or alias used twice is a programming error."""
        for name in (entry.name, *entry.aliases):
            if name in self._names:
                raise ValueError(f"/incident {name} is registered twice")
            self._names[name] = entry.name
        self._entries[entry.name] = entry

    def get(self, name: str) -> Subcommand | None:
        """The subcommand called `name` (or with that alias)."""
        key = self._names.get(name.lower())
        return self._entries[key] if key else None

    @property
    def entries(self) -> list[Subcommand]:
        """Every subcommand, in registration order."""
        return list(self._entries.values())


def split(text: str) -> tuple[str, str]:
    """Split `/incident` text into the subcommand word and the rest."""
    stripped = text.strip()
    if not stripped:
        return "", ""
    word, _, rest = stripped.partition(" ")
    return word.lower(), rest.strip()
