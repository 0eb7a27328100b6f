"""Domain errors: each carries a message fit to show the person who caused it."""

from __future__ import annotations


class BotError(Exception):
    """Base class for errors the bot expects and explains."""


class ConfigError(BotError):
    """A setting or the policy file is missing or malformed."""


class UserError(BotError):
    """Input from a person that the bot refuses, with a reason to show them."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(UserError):
    """The thing a person referred to does not exist."""


class InvalidInput(UserError):
    """A modal submission with field errors, keyed by block id."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors
