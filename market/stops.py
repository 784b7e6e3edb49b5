"""Stop and stop-limit orders waiting for their trigger: the part of `OrderBook` that handles them.

Pending stops sit in two heaps per book: buy stops keyed by stop price (they trigger when the last
trade price rises to it), sell stops keyed by -stop price (they trigger when it falls to it). A heap
entry is (key, arrival, record) and is valid only while the record is still a pending stop with that
arrival number, so cancels and priority-losing modifies invalidate entries lazily instead of searching
the heap. Stops reached by the same trade fire in arrival order; the trades they make can reach
further stops, checked again until none is left (a cascade), without re-entering the loop.
"""
from __future__ import annotations

from heapq import heappop, heappush

from market.events import StopTriggered
from market.order_state import ARRIVAL, DONE, IS_BUY, OID, OWNER, PENDING_STOP, STATE, STOP


class StopsMixin:
    """Mixed into OrderBook; uses its ids, owners, clock, symbol, last and _execute."""

    def _park_stop(self, o: list) -> None:
        o[STATE] = PENDING_STOP
        self.ids[o[OID]] = o
        by = self.owners.get(o[OWNER])
        if by is not None:
            by[o[OID]] = o
        self._push_stop(o)

    def _push_stop(self, o: list) -> None:
        if o[IS_BUY]:
            heappush(self.stops_buy, (o[STOP], o[ARRIVAL], o))
        else:
            heappush(self.stops_sell, (-o[STOP], o[ARRIVAL], o))

    def _run_stops(self, ev: list) -> None:
        """Trigger every stop the last trade price has reached, in arrival order, until none is left."""
        self._stopping = True
        try:
            self._stop_loop(ev)
        finally:
            self._stopping = False

    def _stop_loop(self, ev: list) -> None:
        while True:
            last = self.last
            batch = []
            sb, ss = self.stops_buy, self.stops_sell
            while sb and sb[0][0] <= last:
                _, arrival, o = heappop(sb)
                if o[STATE] == PENDING_STOP and o[ARRIVAL] == arrival:
                    batch.append(o)
            while ss and -ss[0][0] >= last:
                _, arrival, o = heappop(ss)
                if o[STATE] == PENDING_STOP and o[ARRIVAL] == arrival:
                    batch.append(o)
            if not batch:
                return
            batch.sort(key=lambda x: x[ARRIVAL])
            for o in batch:
                if o[STATE] == PENDING_STOP:
                    self._trigger(o, ev)

    def _trigger(self, o: list, ev: list) -> None:
        clk = self.clock
        seq = clk.seq
        ev.append(StopTriggered(seq, clk.cycle, clk.tick, o[OID], o[OWNER], self.symbol, o[STOP], self.last))
        clk.seq = seq + 1
        o[ARRIVAL] = seq
        by = self.owners.get(o[OWNER])
        if by is not None:
            by.pop(o[OID], None)
        o[STATE] = DONE
        self._execute(o, ev)
