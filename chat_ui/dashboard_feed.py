"""The newest dashboard of one hub, numbered, for the pages to fetch: the sidebar element pulls its updates.

The server publishes the dashboard's props when a cycle settles (at most every
TRADING_FLOOR_UI_DASHBOARD_SECONDS during a run) and at a run's end; it never pushes them to the pages. Each
page's Dashboard element (public/elements/Dashboard.jsx) asks `GET /floor/dashboard?after=N` about twice a
second while it is open, and gets the props only when their number moved on (204 otherwise). So an update
costs the page one small fetch and one React render of the panel; Chainlit's element event, which re-opens
a closed sidebar, resets its size and re-evaluates the element's code, is sent once per page. The body is
serialized once per update, whatever the number of pages. No Chainlit here.
"""
from __future__ import annotations

import json


class DashboardFeed:
    def __init__(self) -> None:
        self.version = 0
        self.props: dict | None = None
        self._body: bytes | None = None

    def publish(self, props: dict) -> dict:
        """Number these props as the newest; returns them with their `version`."""
        self.version += 1
        self.props = {**props, "version": self.version}
        self._body = json.dumps(self.props, separators=(",", ":")).encode()
        return self.props

    def newer_than(self, version: int | None) -> bytes | None:
        """The newest props as JSON, or None when the page has them already (or nothing was published).
        Any other number gets them, so a page that knew a restarted server's numbers is brought up to date."""
        if self._body is None or version == self.version:
            return None
        return self._body
