"""What every handler, flow and job needs, built once per process."""

from __future__ import annotations

from dataclasses import dataclass

from bot.clock import Clock
from bot.db import Database
from bot.policy import Policy
from bot.slack.gateway import SlackGateway


@dataclass
class Context:
    """The process-wide collaborators: policy, database, Slack, clock."""

    policy: Policy
    db: Database
    slack: SlackGateway
    clock: Clock
