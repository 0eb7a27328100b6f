"""A sweeper in a process of its own, for the multi-process and crash tests.

`python -m tests.sweeper_process DATABASE_URL API_URL ISO_TIME [--once]` sweeps with the
clock fixed at ISO_TIME until nothing is left to claim (or once), then prints how many
tasks it ran.
"""

from __future__ import annotations

import sys
from datetime import datetime

from bot.clock import ManualClock
from bot.context import Context
from bot.db import Database
from bot.policy import default_policy
from bot.scheduler import sweep
from bot.slack.gateway import SlackGateway, make_clients
from tests.conftest import BOT_TOKEN


def main(argv: list[str]) -> int:
    url, api_url, moment = argv[0], argv[1], datetime.fromisoformat(argv[2])
    retrying, creating = make_clients(BOT_TOKEN, api_url)
    ctx = Context(
        policy=default_policy(),
        db=Database.from_url(url),
        slack=SlackGateway(retrying, creating),
        clock=ManualClock(moment),
    )
    total = 0
    try:
        while True:
            ran = sweep(ctx, limit=20)
            total += ran
            if ran == 0 or "--once" in argv:
                break
    finally:
        ctx.close()
    sys.stdout.write(f"{total}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
