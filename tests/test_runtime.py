"""The process-wide pieces of bot/runtime.py that the HTTP tests do not reach."""

from __future__ import annotations

import gc
import weakref

from bot.runtime import freeze_startup_heap


class _Node:
    def __init__(self) -> None:
        self.me = self


def test_startup_garbage_is_collected_and_the_rest_frozen() -> None:
    garbage = _Node()  # a cycle: only the collector frees it
    gone = weakref.ref(garbage)
    del garbage
    try:
        freeze_startup_heap()
        assert gone() is None  # collected first, not kept for ever
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
