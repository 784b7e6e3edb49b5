"""The floor's live event feed: what happened in a cycle, published once the cycle has settled.

Subscribers (the push server, the SSE stream, the UI) get the cycle's feed as built by
`tools.cycle_feed.cycle_events`. Publishing happens after the ledger commit, so a subscriber never sees a
cycle that is not recorded. A subscriber that raises is dropped from the cycle's delivery and counted,
never allowed to stop the cycle.
"""
from __future__ import annotations

from collections.abc import Callable

Subscriber = Callable[[list[dict]], None]


class EventBus:
    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self.failures = 0

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback) if callback in self._subscribers else None

    @property
    def has_subscribers(self) -> bool:
        """Whether anybody listens: the cycle's feed (a dict per trade) is built only then."""
        return bool(self._subscribers)

    def publish(self, events: list[dict]) -> None:
        for callback in list(self._subscribers):
            try:
                callback(events)
            except Exception:  # noqa: BLE001 - a broken subscriber must never stop a trading cycle
                self.failures += 1
