"""A local, stateful, strict Slack workspace that the real slack_sdk and slack_bolt talk to."""

from .apphost import BoltAppServer
from .delivery import ActionResult, Delivery, UserPost
from .fake import FakeSlack
from .state import (
    Call,
    Channel,
    Ephemeral,
    FileRecord,
    Message,
    ResponseUrlPost,
    User,
    UserGroup,
)

__all__ = [
    "ActionResult",
    "BoltAppServer",
    "Call",
    "Channel",
    "Delivery",
    "Ephemeral",
    "FakeSlack",
    "FileRecord",
    "Message",
    "ResponseUrlPost",
    "User",
    "UserGroup",
    "UserPost",
]
