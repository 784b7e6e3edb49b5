# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The compiled matching engine: `market/book.py`'s `OrderBook` with typed records and price levels.

setup.py builds this module with Cython when it can; `market/book_engine.py` picks it, or the pure-Python
book when it is not built. The two are meant to be identical event for event: market/book.py's docstring
is the specification (behaviour choices, data layout), and tests/test_book_engines.py runs both on the
same random streams and compares every event. The interface the Exchange uses is the same too.

What differs is only the representation:
- an order is an `Order` with C fields; it reads like the pure engine's list record (`o[QTY]`, slots
  from market/order_state.py), so the Exchange handles records of either engine the same way;
- a side is a list of `Level`s sorted by key (price for bids, -price for asks), best last, found by
  binary search; a level keeps its records in a list with a head index: matched and cancelled records
  are skipped (lazy deletion, as in the pure engine) and the consumed prefix is dropped in bulk;
- positions are per-owner `Acct` counters, linked from resting records, so a fill is one C addition;
- the tape is a ring of the last `tape_size` trades; the bar's notional is a 128-bit integer;
- the exchange-wide id table is an `IdTable` (an ordered str -> record map, cheaper than a dict at a
  few hundred thousand ids), and each record remembers its entry so a fill updates it without a lookup;
- events are the same NamedTuples (market/events.py), allocated directly as tuples of that type;
- prices and quantities are C long long: the Exchange rejects values above `MAX_UNITS` (10**12, see
  market/order_state.py) in both engines before they reach a book.
"""
cimport cython
from cpython.dict cimport PyDict_SetItem, PyDict_Size
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE
from cpython.object cimport PyObject, PyTypeObject
from cpython.ref cimport Py_INCREF, Py_XDECREF
from libc.stdlib cimport calloc, free, realloc
from libc.string cimport memset
from cpython.tuple cimport PyTuple_GET_SIZE, PyTuple_SET_ITEM

from heapq import heappop, heappush

from market.events import (
    CancelReason,
    OrderAccepted,
    OrderCancelled,
    OrderModified,
    OrderRejected,
    RejectReason,
    StopTriggered,
    TradeExecuted,
)
from market.market_data import Bar
from market.order_state import MAX_UNITS as _MAX_UNITS_PY
from market.orders import CancelOrder, OrderType, Side, SubmitOrder, TimeInForce

cdef extern from *:
    """
    typedef __int128 tf_i128;

    /* A NamedTuple instance of type `t` with n empty (NULL) items, not tracked by the GC: what
       tuple.__new__(t, ...) builds, minus the copy. The caller fills every item and never tracks it
       (its items are ints, strs, enum members and None: it cannot be part of a reference cycle). */
    static CYTHON_INLINE PyObject* tf_alloc(PyTypeObject* t, Py_ssize_t n) {
        PyTupleObject *op = PyObject_GC_NewVar(PyTupleObject, t, n);
        Py_ssize_t i;
        if (op == NULL) return NULL;
        for (i = 0; i < n; i++) op->ob_item[i] = NULL;
        return (PyObject*)op;
    }

    /* a == b for two exact strs */
    static CYTHON_INLINE int tf_str_eq(PyObject* a, PyObject* b) {
        Py_ssize_t n;
        Py_hash_t ha, hb;
        if (a == b) return 1;
        n = PyUnicode_GET_LENGTH(a);
        if (n != PyUnicode_GET_LENGTH(b) || PyUnicode_KIND(a) != PyUnicode_KIND(b)) return 0;
        ha = ((PyASCIIObject*)a)->hash;
        hb = ((PyASCIIObject*)b)->hash;
        if (ha != -1 && hb != -1 && ha != hb) return 0;
        return memcmp(PyUnicode_DATA(a), PyUnicode_DATA(b), (size_t)(n * PyUnicode_KIND(a))) == 0;
    }

    /* "T{seq}", the trade id */
    static PyObject* tf_trade_id(long long seq) {
        char buf[32];
        char *end = buf + sizeof(buf), *p = end;
        unsigned long long v = seq < 0 ? 0ULL - (unsigned long long)seq : (unsigned long long)seq;
        Py_ssize_t n;
        PyObject *s;
        do { *--p = (char)('0' + (int)(v % 10)); v /= 10; } while (v);
        if (seq < 0) *--p = '-';
        *--p = 'T';
        n = (Py_ssize_t)(end - p);
        s = PyUnicode_New(n, 127);
        if (s == NULL) return NULL;
        memcpy(PyUnicode_1BYTE_DATA(s), p, (size_t)n);
        return s;
    }

    static PyObject* tf_i128_to_py(tf_i128 v) {
        PyObject *hi, *lo, *sh, *bits, *out;
        if (v >= (tf_i128)LLONG_MIN && v <= (tf_i128)LLONG_MAX) return PyLong_FromLongLong((long long)v);
        hi = PyLong_FromLongLong((long long)(v >> 64));
        lo = PyLong_FromUnsignedLongLong((unsigned long long)v);
        bits = PyLong_FromLong(64);
        sh = (hi && bits) ? PyNumber_Lshift(hi, bits) : NULL;
        out = (sh && lo) ? PyNumber_Or(sh, lo) : NULL;
        Py_XDECREF(hi); Py_XDECREF(lo); Py_XDECREF(bits); Py_XDECREF(sh);
        return out;
    }

    static tf_i128 tf_i128_from_parts(long long hi, unsigned long long lo) {
        return (tf_i128)(((unsigned __int128)(tf_i128)hi << 64) | (unsigned __int128)lo);
    }
    """
    ctypedef long long tf_i128
    object tf_alloc(PyTypeObject* t, Py_ssize_t n)
    bint tf_str_eq(str a, str b) noexcept
    PyObject* PyDict_GetItemWithError(object d, object key) except? NULL
    list PyList_New(Py_ssize_t n)
    void PyList_SET_ITEM(object lst, Py_ssize_t i, object o)
    void Py_SET_SIZE(object o, Py_ssize_t n)
    PyObject* PyTuple_GET_ITEM(object t, Py_ssize_t i)
    PyTypeObject* Py_TYPE(PyObject* o)
    object tf_trade_id(long long seq)
    object tf_i128_to_py(tf_i128 v)
    tf_i128 tf_i128_from_parts(long long hi, unsigned long long lo)
    long long PyLong_AsLongLongAndOverflow(object o, int* overflow) except? -1
    bint PyLong_CheckExact(object o)
    bint PyUnicode_CheckExact(object o)
    Py_ssize_t PyUnicode_GET_LENGTH(object o)

# record states and slots (market/order_state.py)
cdef enum:
    PENDING_STOP = 0
    RESTING = 1
    DONE = 2
cdef long long ANY = -4611686018427387904  # -(2**62), the limit key of a market order: crosses every level
cdef long long MAX_UNITS = _MAX_UNITS_PY

cdef object _ACCEPTED = OrderAccepted, _TRADE = TradeExecuted, _CANCELLED = OrderCancelled
cdef PyTypeObject* P_ACCEPTED = <PyTypeObject*>OrderAccepted
cdef PyTypeObject* P_TRADE = <PyTypeObject*>TradeExecuted
cdef PyTypeObject* P_CANCELLED = <PyTypeObject*>OrderCancelled
cdef object _SUBMIT = SubmitOrder, _CANCEL = CancelOrder, _SIDE = Side, _TIF = TimeInForce
cdef object LIMIT = OrderType.LIMIT
cdef object BUY = Side.BUY
cdef object IOC = TimeInForce.IOC, FOK = TimeInForce.FOK
cdef object SELF_TRADE = CancelReason.SELF_TRADE, IOC_REMAINDER = CancelReason.IOC_REMAINDER
cdef object FOK_UNFILLABLE = CancelReason.FOK_UNFILLABLE, REQUESTED = CancelReason.REQUESTED
cdef object NO_LIQUIDITY = RejectReason.NO_LIQUIDITY


cdef inline void _put(object t, Py_ssize_t i, object v) noexcept:
    Py_INCREF(v)
    PyTuple_SET_ITEM(t, i, v)


cdef list _events(object first):
    """[first], with room for three more events before the list has to grow."""
    cdef list ev = PyList_New(4)
    Py_INCREF(first)
    PyList_SET_ITEM(ev, 0, first)
    Py_SET_SIZE(ev, 1)  # items 1-3 are unset (NULL) and outside the list's size
    return ev


cdef object _accepted(long long seq, object cyc, object tk, str oid, str owner, str sym, object side, object otype,
                      object tif, object qty, object price, object stop):
    cdef object t = tf_alloc(P_ACCEPTED, 12)
    _put(t, 0, seq)
    _put(t, 1, cyc)
    _put(t, 2, tk)
    _put(t, 3, oid)
    _put(t, 4, owner)
    _put(t, 5, sym)
    _put(t, 6, side)
    _put(t, 7, otype)
    _put(t, 8, tif)
    _put(t, 9, qty)
    _put(t, 10, price)
    _put(t, 11, stop)
    return t


cdef object _trade(long long seq, object cyc, object tk, str sym, object px, long long qty, str buy_oid,
                   str sell_oid, str buyer, str seller, object aggressor):
    cdef object t = tf_alloc(P_TRADE, 12)
    _put(t, 0, seq)
    _put(t, 1, cyc)
    _put(t, 2, tk)
    _put(t, 3, tf_trade_id(seq))
    _put(t, 4, sym)
    _put(t, 5, px)
    _put(t, 6, qty)
    _put(t, 7, buy_oid)
    _put(t, 8, sell_oid)
    _put(t, 9, buyer)
    _put(t, 10, seller)
    _put(t, 11, aggressor)
    return t


cdef object _cancelled(long long seq, object cyc, object tk, str oid, str owner, str sym, long long rem,
                       object reason):
    cdef object t = tf_alloc(P_CANCELLED, 8)
    _put(t, 0, seq)
    _put(t, 1, cyc)
    _put(t, 2, tk)
    _put(t, 3, oid)
    _put(t, 4, owner)
    _put(t, 5, sym)
    _put(t, 6, rem)
    _put(t, 7, reason)
    return t


cdef class Order  # (defined below)


# ----------------------------------------------------------------------------------------- IdTable
cdef struct IdEntry:
    Py_hash_t hash
    PyObject* key  # NULL once removed
    PyObject* value

cdef unsigned long long SLOT_TOMB = 0xFFFFFFFFULL  # the index slot of a removed entry (an empty slot is 0)


@cython.final
@cython.no_gc
cdef class IdTable:
    """The exchange-wide order id table of the compiled engine: an insertion-ordered str -> value map.

    It stands in for the dict the pure engine uses (the same operations: `in`, get, set, pop, update,
    len, and iteration in order of insertion), because with a few hundred thousand ids a dict lookup
    costs several cache misses: it probes scattered index slots and compares keys through the key
    objects. Here the index is linear-probed (neighbouring slots share a cache line) and each slot holds
    32 bits of the key's hash next to the entry number, so a lookup usually touches one index line and
    one entry. Entries are {hash, key, value} in insertion order; removed ones leave a hole until the
    next resize compacts them. Keys are strs; values are order records or None (nothing that could lead
    back here, hence no GC tracking).
    """
    cdef IdEntry* entries
    cdef unsigned long long* index  # slot: (hash >> 32) << 32 | (entry number + 1); 0 empty
    cdef Py_ssize_t cap, used, size, mask  # entries allocated / appended (with holes) / live; index size - 1
    cdef size_t epoch  # changes whenever entries move (compaction): entry numbers held elsewhere expire

    def __cinit__(self, items=()):
        self.cap = 8
        self.entries = <IdEntry*>calloc(self.cap, sizeof(IdEntry))
        self.mask = 2 * self.cap - 1
        self.index = <unsigned long long*>calloc(self.mask + 1, sizeof(unsigned long long))
        if self.entries is NULL or self.index is NULL:
            raise MemoryError()

    def __init__(self, items=()):
        self.update(items)

    def __dealloc__(self):
        cdef Py_ssize_t i
        if self.entries is not NULL:
            for i in range(self.used):
                if self.entries[i].key is not NULL:
                    Py_XDECREF(self.entries[i].key)
                    Py_XDECREF(self.entries[i].value)
            free(self.entries)
        free(self.index)

    cdef Py_ssize_t _find(self, object key, Py_hash_t h, Py_ssize_t* slot) except -2:
        """Entry number of `key`, or -1; `slot` gets its index slot (or the slot a new key would take)."""
        cdef unsigned long long frag = (<unsigned long long>h) >> 32, s, low
        cdef size_t i = (<size_t>h) & <size_t>self.mask
        cdef Py_ssize_t free_slot = -1, ix
        cdef IdEntry* e
        while True:
            s = self.index[i]
            if s == 0:
                slot[0] = <Py_ssize_t>i if free_slot < 0 else free_slot
                return -1
            low = s & 0xFFFFFFFFULL
            if low == SLOT_TOMB:
                if free_slot < 0:
                    free_slot = <Py_ssize_t>i
            elif (s >> 32) == frag:
                ix = <Py_ssize_t>low - 1
                e = &self.entries[ix]
                if e.key == <PyObject*>key or (e.hash == h and _key_eq(<object>e.key, key)):
                    slot[0] = <Py_ssize_t>i
                    return ix
            i = (i + 1) & <size_t>self.mask

    cdef int _grow(self) except -1:
        """Make room for one more entry: compact away the holes, or double the capacity; rebuild the index."""
        cdef Py_ssize_t i, j = 0, n
        cdef IdEntry* grown
        cdef unsigned long long* index
        cdef size_t k
        if self.size > self.cap // 2:
            grown = <IdEntry*>realloc(self.entries, 2 * self.cap * sizeof(IdEntry))
            if grown is NULL:
                raise MemoryError()
            self.entries = grown
            self.cap *= 2
        for i in range(self.used):  # compact, keeping the order
            if self.entries[i].key is not NULL:
                self.entries[j] = self.entries[i]
                j += 1
        self.used = j
        self.epoch += 1
        n = 2 * self.cap
        index = <unsigned long long*>calloc(n, sizeof(unsigned long long))
        if index is NULL:
            raise MemoryError()
        free(self.index)
        self.index = index
        self.mask = n - 1
        for i in range(self.used):
            k = (<size_t>self.entries[i].hash) & <size_t>self.mask
            while self.index[k]:
                k = (k + 1) & <size_t>self.mask
            self.index[k] = ((<unsigned long long>self.entries[i].hash) >> 32 << 32) | <unsigned long long>(i + 1)
        return 0

    cdef Py_ssize_t _insert(self, object key, Py_hash_t h, Py_ssize_t slot, object value) except -1:
        """Append key -> value at index slot `slot`; returns its entry number."""
        if self.used == self.cap:
            self._grow()
            self._find(key, h, &slot)
        ix = self.used
        Py_INCREF(key)
        Py_INCREF(value)
        self.entries[ix].hash = h
        self.entries[ix].key = <PyObject*>key
        self.entries[ix].value = <PyObject*>value
        self.index[slot] = ((<unsigned long long>h) >> 32 << 32) | <unsigned long long>(ix + 1)
        self.used += 1
        self.size += 1
        return ix

    cdef Py_ssize_t add_new(self, str key) except -2:
        """Insert key -> None unless the key is present: its entry number if inserted, else -1."""
        cdef Py_hash_t h = hash(key)
        cdef Py_ssize_t slot
        if self._find(key, h, &slot) >= 0:
            return -1
        return self._insert(key, h, slot, None)

    cdef Py_ssize_t put(self, str key, object value) except -1:
        """table[key] = value; returns the key's entry number."""
        cdef Py_hash_t h = hash(key)
        cdef Py_ssize_t slot, ix = self._find(key, h, &slot)
        cdef PyObject* old
        if ix < 0:
            return self._insert(key, h, slot, value)
        old = self.entries[ix].value
        Py_INCREF(value)
        self.entries[ix].value = <PyObject*>value
        Py_XDECREF(old)
        return ix

    cdef int put_record(self, Order o, object value) except -1:
        """table[o.oid] = value, through the entry number the record remembers when it is still valid."""
        cdef Py_ssize_t ix = o.id_ix
        cdef PyObject* old
        if o.id_epoch == self.epoch and 0 <= ix < self.used and self.entries[ix].key == <PyObject*>o.oid:
            old = self.entries[ix].value
            Py_INCREF(value)
            self.entries[ix].value = <PyObject*>value
            Py_XDECREF(old)
        else:
            o.id_ix = self.put(o.oid, value)
            o.id_epoch = self.epoch
        return 0

    # ------------------------------------------------------------- the dict operations the Exchange uses
    def __len__(self):
        return self.size

    def __contains__(self, key):
        cdef Py_ssize_t slot
        cdef Py_hash_t h = hash(key)  # TypeError for an unhashable key, as a dict would raise
        return isinstance(key, str) and self._find(key, h, &slot) >= 0

    def get(self, key, default=None):
        cdef Py_ssize_t slot, ix
        cdef Py_hash_t h = hash(key)
        if not isinstance(key, str):
            return default
        ix = self._find(key, h, &slot)
        return default if ix < 0 else <object>self.entries[ix].value

    def __getitem__(self, key):
        cdef Py_ssize_t slot, ix = -1
        cdef Py_hash_t h = hash(key)
        if isinstance(key, str):
            ix = self._find(key, h, &slot)
        if ix < 0:
            raise KeyError(key)
        return <object>self.entries[ix].value

    def __setitem__(self, key, value):
        if not isinstance(key, str):
            raise TypeError(f"order ids are strs, not {type(key).__name__}")
        self.put(key, value)

    def pop(self, key, *default):
        cdef Py_ssize_t slot, ix = -1
        cdef Py_hash_t h = hash(key)
        cdef IdEntry* e
        if isinstance(key, str):
            ix = self._find(key, h, &slot)
        if ix < 0:
            if default:
                return default[0]
            raise KeyError(key)
        e = &self.entries[ix]
        value = <object>e.value
        Py_XDECREF(e.key)
        Py_XDECREF(e.value)
        e.key = e.value = NULL
        self.index[slot] = SLOT_TOMB
        self.size -= 1
        return value

    def update(self, items=()):
        if isinstance(items, (dict, IdTable)):
            items = items.items()
        for key, value in items:
            self[key] = value

    def clear(self):
        self.pop_all()

    cdef void pop_all(self):
        cdef Py_ssize_t i
        for i in range(self.used):
            if self.entries[i].key is not NULL:
                Py_XDECREF(self.entries[i].key)
                Py_XDECREF(self.entries[i].value)
                self.entries[i].key = self.entries[i].value = NULL
        memset(self.index, 0, (self.mask + 1) * sizeof(unsigned long long))
        self.used = self.size = 0
        self.epoch += 1

    # ------------------------------------------------------------- the Exchange's end of a cycle, in C
    def live_since(self, Py_ssize_t mark, tif):
        """`[o for o in islice(self.values(), mark, None) if o is not None and o[TIF] is tif and o[STATE] != DONE]`:
        the live records of time in force `tif` accepted after the first `mark` ids (Exchange.end_cycle)."""
        cdef Py_ssize_t i, skip = mark
        cdef list out = []
        cdef PyObject* v
        for i in range(self.used):
            if self.entries[i].key is NULL:
                continue
            if skip > 0:
                skip -= 1
                continue
            v = self.entries[i].value
            if v == <PyObject*>None:
                continue
            if Py_TYPE(v) == <PyTypeObject*>Order:
                if (<Order>v).tif is tif and (<Order>v).state != DONE:
                    out.append(<object>v)
            elif (<object>v)[6] is tif and (<object>v)[11] != DONE:  # TIF, STATE (market/order_state.py)
                out.append(<object>v)
        return out

    def pop_first(self, Py_ssize_t count):
        """Remove the first `count` ids; returns the (id, record) pairs of the live records among them, in
        order: `[(k, o) for k in list(islice(self, count)) if (o := self.pop(k)) is not None and o[STATE] != DONE]`
        (Exchange._forget_old_ids)."""
        cdef Py_ssize_t i, left = count
        cdef list keep = []
        cdef PyObject* v
        cdef IdEntry* e
        cdef size_t k
        cdef unsigned long long want
        for i in range(self.used):
            if left <= 0:
                break
            e = &self.entries[i]
            if e.key is NULL:
                continue
            left -= 1
            v = e.value
            if v != <PyObject*>None:
                if Py_TYPE(v) == <PyTypeObject*>Order:
                    if (<Order>v).state != DONE:
                        keep.append((<object>e.key, <object>v))
                elif (<object>v)[11] != DONE:  # STATE
                    keep.append((<object>e.key, <object>v))
            k = (<size_t>e.hash) & <size_t>self.mask  # its index slot: the one that holds its entry number
            want = <unsigned long long>(i + 1)
            while (self.index[k] & 0xFFFFFFFFULL) != want:
                k = (k + 1) & <size_t>self.mask
            self.index[k] = SLOT_TOMB
            Py_XDECREF(e.key)
            Py_XDECREF(e.value)
            e.key = e.value = NULL
            self.size -= 1
        return keep

    def __iter__(self):
        cdef Py_ssize_t i = 0
        while i < self.used:
            if self.entries[i].key is not NULL:
                yield <object>self.entries[i].key
            i += 1

    def keys(self):
        return list(self)

    def values(self):
        cdef Py_ssize_t i
        return [<object>self.entries[i].value for i in range(self.used) if self.entries[i].key is not NULL]

    def items(self):
        cdef Py_ssize_t i
        return [(<object>self.entries[i].key, <object>self.entries[i].value) for i in range(self.used)
                if self.entries[i].key is not NULL]

    def __reduce__(self):
        return (IdTable, (self.items(),))

    def __repr__(self):
        return f"IdTable({dict(self.items())!r})"


cdef inline bint _key_eq(object a, object b) except -1:
    if PyUnicode_CheckExact(a) and PyUnicode_CheckExact(b):
        return tf_str_eq(a, b)
    return a == b


@cython.final
@cython.no_gc
@cython.freelist(64)
cdef class Acct:
    """One owner's net position (shares bought minus sold) in one book."""
    cdef long long pos


@cython.final
@cython.no_gc
@cython.freelist(512)
cdef class Order:
    """An order record of the compiled book; `o[slot]` reads it like the pure engine's list record.

    `qty` is the remaining open quantity (0 marks a dead record), `total` filled + remaining, `arrival`
    the seq that gave the order its time priority, `acct` its owner's position counter (set once it rests).
    """
    cdef str oid, owner, symbol
    cdef object side, otype, tif, price_o, stop_o  # price_o / stop_o: None or the int
    cdef long long price, stop, qty, total, arrival
    cdef int state
    cdef bint is_buy
    cdef Acct acct
    cdef Py_ssize_t id_ix  # its entry in the IdTable, valid while the table's epoch is still id_epoch
    cdef size_t id_epoch

    def __getitem__(self, Py_ssize_t i):
        if i == 0:
            return self.oid
        if i == 1:
            return self.owner
        if i == 2:
            return self.symbol
        if i == 3:
            return self.side
        if i == 4:
            return self.is_buy
        if i == 5:
            return self.otype
        if i == 6:
            return self.tif
        if i == 7:
            return self.price_o
        if i == 8:
            return self.stop_o
        if i == 9:
            return self.qty
        if i == 10:
            return self.total
        if i == 11:
            return self.state
        if i == 12:
            return self.arrival
        raise IndexError(i)

    def __len__(self):
        return 13

    def __reduce__(self):
        return (_order, (self.oid, self.owner, self.symbol, self.side, self.otype, self.tif, self.price_o,
                         self.stop_o, self.qty, self.total, self.state, self.arrival))

    def __repr__(self):
        return f"Order{list(self)!r}"


cdef Order _new_order(str oid, str owner, str symbol, object side, bint is_buy, object otype, object tif,
                      object price, object stop, long long qty, long long total, int state, long long arrival):
    cdef Order o = Order.__new__(Order)
    o.oid = oid
    o.owner = owner
    o.symbol = symbol
    o.side = side
    o.is_buy = is_buy
    o.otype = otype
    o.tif = tif
    o.price_o = price
    o.price = 0 if price is None else price
    o.stop_o = stop
    o.stop = 0 if stop is None else stop
    o.qty = qty
    o.total = total
    o.state = state
    o.arrival = arrival
    o.id_ix = -1
    return o


cdef Order _copy(Order s):
    cdef Order o = _new_order(s.oid, s.owner, s.symbol, s.side, s.is_buy, s.otype, s.tif, s.price_o, s.stop_o,
                              s.qty, s.total, s.state, s.arrival)
    o.acct = s.acct
    o.id_ix, o.id_epoch = s.id_ix, s.id_epoch
    return o


def _order(oid, owner, symbol, side, otype, tif, price, stop, qty, total, state, arrival):
    """Unpickle an `Order`."""
    return _new_order(oid, owner, symbol, side, side is BUY, otype, tif, price, stop, qty, total, state, arrival)


@cython.final
@cython.no_gc
@cython.freelist(64)
cdef class Level:
    """One price level: records in time priority from `head` on (dead ones skipped), live totals."""
    cdef long long key, price, qty, n
    cdef object price_o
    cdef list q
    cdef Py_ssize_t head


cdef Level _new_level(long long key, object price_o):
    cdef Level lvl = Level.__new__(Level)
    lvl.key = key
    lvl.price_o = price_o
    lvl.price = price_o
    lvl.q = []
    return lvl


@cython.final
cdef class Clock:
    """The exchange-wide event sequence number and simulation time (see market/order_state.py)."""
    cdef public long long seq
    cdef public object cycle, tick

    def __init__(self, seq=1, cycle=0, tick=0):
        self.seq = seq
        self.cycle = cycle
        self.tick = tick

    def __reduce__(self):
        return (Clock, (self.seq, self.cycle, self.tick))


@cython.final
@cython.no_gc
cdef class BarBuilder:
    """Running OHLCV accumulators of the cycle in progress (market/market_data.py's BarBuilder, in C)."""
    cdef bint has_close
    cdef long long open_, high_, low_, close_, volume_, trades_
    cdef tf_i128 notional_

    def __init__(self):
        self.reset(None)

    def reset(self, close):
        self.has_close = close is not None
        self.open_ = self.high_ = self.low_ = self.close_ = 0 if close is None else close
        self.volume_ = 0
        self.notional_ = 0
        self.trades_ = 0

    def bar(self, cycle):
        if not self.has_close:
            return None
        if self.trades_ == 0:
            c = self.close_
            return Bar(cycle, c, c, c, c, 0, float(c), 0)
        return Bar(cycle, self.open_, self.high_, self.low_, self.close_, self.volume_,
                   tf_i128_to_py(self.notional_) / self.volume_, self.trades_)

    @property
    def notional(self):
        return tf_i128_to_py(self.notional_)

    def __reduce__(self):
        c = self.close_ if self.has_close else None
        return (_bar_builder, (self.has_close, self.open_, self.high_, self.low_, c, self.volume_,
                               tf_i128_to_py(self.notional_), self.trades_))


def _bar_builder(has_close, open_, high, low, close, volume, notional, trades):
    """Unpickle a `BarBuilder`."""
    cdef BarBuilder b = BarBuilder()
    b.reset(close)
    b.open_, b.high_, b.low_, b.volume_, b.trades_ = open_, high, low, volume, trades
    b.notional_ = tf_i128_from_parts(notional >> 64, notional & 0xFFFFFFFFFFFFFFFF)
    return b


cdef inline Level _best(list side):
    return <Level>PyList_GET_ITEM(side, PyList_GET_SIZE(side) - 1)


cdef Py_ssize_t _bisect(list side, long long key) noexcept:
    """Index of the first level whose key is >= key."""
    cdef Py_ssize_t lo = 0, hi = PyList_GET_SIZE(side), mid
    while lo < hi:
        mid = (lo + hi) >> 1
        if (<Level>PyList_GET_ITEM(side, mid)).key < key:
            lo = mid + 1
        else:
            hi = mid
    return lo


@cython.final
cdef class OrderBook:
    """The book of one symbol, compiled. Same constructor, tables and behaviour as market/book.py's."""
    cdef readonly object instrument
    cdef readonly str symbol
    cdef readonly long long lot, tick_size
    cdef public Clock clock
    cdef public IdTable ids  # shared with the exchange (see market/book.py's OrderBook)
    cdef public dict owners  # likewise
    cdef readonly BarBuilder bar
    cdef public list stops_buy, stops_sell  # heaps of (stop_price, arrival, record) / (-stop_price, ...)
    cdef list bids, asks  # Levels by key ascending, best last
    cdef dict accts  # owner -> Acct
    cdef list ring  # the tape: the last `ring_size` trades, oldest at ring_pos once full
    cdef Py_ssize_t ring_size, ring_pos, ring_n
    cdef long long last_
    cdef bint has_last, stopping

    def __init__(self, instrument, Clock clock, IdTable ids, dict owners, Py_ssize_t tape_size=500):
        self.instrument = instrument
        self.symbol = instrument.symbol
        self.lot = instrument.lot_size
        self.tick_size = instrument.tick_size
        self.clock = clock
        self.ids = ids
        self.owners = owners
        self.bar = BarBuilder()
        self.stops_buy = []
        self.stops_sell = []
        self.bids = []
        self.asks = []
        self.accts = {}
        self.ring_size = tape_size if tape_size > 0 else 0
        self.ring = [None] * self.ring_size
        self.ring_pos = self.ring_n = 0
        self.has_last = self.stopping = False

    # ----------------------------------------------------------------- pickling
    def __reduce__(self):
        """Like the pure book: the shared `ids` / `owners` are left out (the exchange re-attaches them),
        trades are plain tuples, levels keep only their live records; positions keep their order (the
        restored book then pickles exactly like the original)."""
        sides = []
        for side in (self.bids, self.asks):
            sides.append([((<Level>lvl).price_o, [o for o in (<Level>lvl).q[(<Level>lvl).head:] if (<Order>o).qty])
                          for lvl in side])
        pos = {owner: (<Acct>a).pos for owner, a in self.accts.items()}
        return (_book, (self.instrument, self.clock, self.ring_size, [tuple(t) for t in self.recent_trades(self.ring_size)],
                        sides[0], sides[1], self.stops_buy, self.stops_sell, self.last, self.bar, pos))

    # ----------------------------------------------------------------- quotes and reads
    @property
    def last(self):
        return self.last_ if self.has_last else None

    @property
    def pos(self):
        """owner -> net shares bought minus sold in this symbol (a copy)."""
        return {owner: (<Acct>a).pos for owner, a in self.accts.items()}

    def position(self, owner):
        cdef PyObject* a = PyDict_GetItemWithError(self.accts, owner) if isinstance(owner, str) else NULL
        return 0 if a is NULL else (<Acct>a).pos

    def best_bid(self):
        return _best(self.bids).price_o if PyList_GET_SIZE(self.bids) else None

    def best_ask(self):
        return _best(self.asks).price_o if PyList_GET_SIZE(self.asks) else None

    def levels(self, bint is_buy, n):
        cdef list side = self.bids if is_buy else self.asks
        cdef Py_ssize_t i, size = PyList_GET_SIZE(side), m
        cdef Level lvl
        if n <= 0:
            return ()
        m = size if n >= size else n
        out = []
        for i in range(size - 1, size - 1 - m, -1):
            lvl = <Level>PyList_GET_ITEM(side, i)
            out.append((lvl.price_o, lvl.qty, lvl.n))
        return tuple(out)

    def recent_trades(self, n):
        """The last `n` trades of the tape, most recent last."""
        cdef Py_ssize_t k, i, start
        if n <= 0:
            return []
        k = self.ring_n if n >= self.ring_n else n
        if k == 0:
            return []
        start = self.ring_pos - k
        if start < 0:
            start += self.ring_size
        return [self.ring[(start + i) % self.ring_size] for i in range(k)]

    # ----------------------------------------------------------------- commands
    def submit_limit(self, str oid, str owner, side, bint is_buy, tif, price, qty):
        """Accept and run a validated LIMIT order (its id is not in `ids` yet): the hot path."""
        return self._limit(oid, owner, side, is_buy, tif, price, price, qty, qty, self.ids.put(oid, None))

    def submit_order(self, str oid, str owner, side, bint is_buy, otype, tif, price, stop, qty):
        """Accept and run any validated new order; a MARKET order facing an empty side is rejected."""
        return self._submit(_new_order(oid, owner, self.symbol, side, is_buy, otype, tif, price, stop, qty, qty,
                                       RESTING, 0))

    def cancel(self, Order o, reason=REQUESTED):
        return self._cancel(o, reason)

    def remove_for_expiry(self, Order o):
        """Take a live order out of the book (for DAY expiry); returns its remaining quantity."""
        return self._remove(o)

    def modify(self, Order o, long long qty, price):
        """Apply a validated modification (new remaining qty, new limit price) to a live order."""
        cdef Clock clk = self.clock
        cdef bint keep = price == o.price_o and qty <= o.qty
        cdef long long seq = clk.seq, filled = o.total - o.qty
        cdef Level lvl
        ev = [OrderModified(seq, clk.cycle, clk.tick, o.oid, o.owner, self.symbol, qty, price, keep)]
        clk.seq = seq + 1
        if o.state == PENDING_STOP:
            o.qty = qty
            o.total = filled + qty
            o.price_o = price
            o.price = 0 if price is None else price
            if not keep:
                o.arrival = seq
                self._push_stop(o)
            return ev
        if keep:
            lvl = self._level_of(o)
            lvl.qty -= o.qty - qty
            o.qty = qty
            o.total = filled + qty
            return ev
        # re-enter as a fresh record (the old one stays dead in its level: lazy deletion)
        self._remove(o)
        o = _copy(o)
        o.qty = qty
        o.total = filled + qty
        o.price_o = price
        o.price = 0 if price is None else price
        o.arrival = seq
        self._execute(o, ev)
        return ev

    # ----------------------------------------------------------------- internals
    cdef object _cancel(self, Order o, object reason):
        cdef long long rem = self._remove(o)
        cdef Clock clk = self.clock
        cdef long long seq = clk.seq
        clk.seq = seq + 1
        return _cancelled(seq, clk.cycle, clk.tick, o.oid, o.owner, self.symbol, rem, reason)

    cdef list _limit(self, str oid, str owner, object side, bint is_buy, object tif, object price_o,
                     long long price, object qty_o, long long qty, Py_ssize_t id_ix):
        """`submit_limit` once `ids[oid]` exists (as None, at entry number `id_ix`)."""
        cdef Clock clk = self.clock
        cdef long long seq = clk.seq, rem = qty, lim
        cdef list ev = _events(_accepted(seq, clk.cycle, clk.tick, oid, owner, self.symbol, side, LIMIT, tif, qty_o,
                                         price_o, None))
        cdef list opp
        cdef Order o
        clk.seq = seq + 1
        if tif is FOK:
            self._execute(_new_order(oid, owner, self.symbol, side, is_buy, LIMIT, tif, price_o, None, qty, qty,
                                     DONE, seq), ev)
            return ev
        if is_buy:
            opp, lim = self.asks, -price
        else:
            opp, lim = self.bids, price
        if PyList_GET_SIZE(opp) and _best(opp).key >= lim:
            rem -= self._match(oid, owner, side, is_buy, qty, lim, ev)
        if rem:
            if tif is IOC:
                seq = clk.seq
                ev.append(_cancelled(seq, clk.cycle, clk.tick, oid, owner, self.symbol, rem, IOC_REMAINDER))
                clk.seq = seq + 1
            else:
                o = _new_order(oid, owner, self.symbol, side, is_buy, LIMIT, tif, price_o, None, rem, qty, RESTING,
                               seq)
                o.id_ix = id_ix
                o.id_epoch = self.ids.epoch
                self._rest(o)
        if rem != qty and (self.stops_buy or self.stops_sell) and not self.stopping:
            self._run_stops(ev)
        return ev

    cdef list _submit(self, Order o):
        cdef Clock clk = self.clock
        cdef long long seq = clk.seq
        if o.price_o is None and o.stop_o is None and not PyList_GET_SIZE(self.asks if o.is_buy else self.bids):
            clk.seq = seq + 1
            return [OrderRejected(seq, clk.cycle, clk.tick, o.oid, o.owner, self.symbol, NO_LIQUIDITY,
                                  f"market order {o.oid}: there are no {'sell' if o.is_buy else 'buy'} orders "
                                  f"in {self.symbol} to trade against")]
        ev = [_accepted(seq, clk.cycle, clk.tick, o.oid, o.owner, self.symbol, o.side, o.otype, o.tif, o.qty,
                        o.price_o, o.stop_o)]
        clk.seq = seq + 1
        self.ids.put_record(o, o)
        o.arrival = seq
        if o.stop_o is not None:
            self._park_stop(o)
            if self.has_last:
                self._run_stops(ev)
            return ev
        self._execute(o, ev)
        return ev

    cdef int _execute(self, Order o, list ev) except -1:
        """Run an accepted (or triggered, or re-entered) order: FOK check, match, then rest or cancel."""
        cdef Clock clk = self.clock
        cdef long long seq, lim, filled = 0
        cdef list opp
        if o.tif is FOK and self._available(o) < o.qty:
            seq = clk.seq
            ev.append(_cancelled(seq, clk.cycle, clk.tick, o.oid, o.owner, self.symbol, o.qty, FOK_UNFILLABLE))
            clk.seq = seq + 1
            o.state = DONE
            return 0
        if o.is_buy:
            opp = self.asks
            lim = ANY if o.price_o is None else -o.price
        else:
            opp = self.bids
            lim = ANY if o.price_o is None else o.price
        if PyList_GET_SIZE(opp) and _best(opp).key >= lim:
            filled = self._match(o.oid, o.owner, o.side, o.is_buy, o.qty, lim, ev)
            o.qty -= filled
        if o.qty:
            if o.price_o is None or o.tif is IOC:
                seq = clk.seq
                ev.append(_cancelled(seq, clk.cycle, clk.tick, o.oid, o.owner, self.symbol, o.qty, IOC_REMAINDER))
                clk.seq = seq + 1
                o.state = DONE
            else:
                self._rest(o)
        else:
            o.state = DONE
        if filled and (self.stops_buy or self.stops_sell) and not self.stopping:
            self._run_stops(ev)
        return 0

    cdef long long _match(self, str oid, str owner, object aggressor, bint is_buy, long long remaining,
                          long long lim, list ev) except -1:
        """Match an incoming order against the opposite side down to limit key `lim`; returns qty filled.

        Also books the trades: tape, the cycle's bar, the last price and both owners' positions."""
        cdef list opp = self.asks if is_buy else self.bids
        cdef Clock clk = self.clock
        cdef long long seq = clk.seq, start = seq, rem = remaining, r0, mq, fq, px = 0, first = 0, taken
        cdef long long dropped = 0, filled
        cdef tf_i128 notional = 0
        cdef object cyc = clk.cycle, tk = clk.tick, t
        cdef str sym = self.symbol
        cdef IdTable ids = self.ids
        cdef dict owners = self.owners
        cdef bint indexed = PyDict_Size(owners) != 0
        cdef Py_ssize_t nlev = PyList_GET_SIZE(opp), h, qn
        cdef Level lvl
        cdef Order m
        cdef list q
        while rem and nlev:
            lvl = <Level>PyList_GET_ITEM(opp, nlev - 1)
            if lvl.key < lim:
                break
            px = lvl.price
            q = lvl.q
            qn = PyList_GET_SIZE(q)
            h = lvl.head
            r0 = rem
            while h < qn:
                m = <Order>PyList_GET_ITEM(q, h)
                mq = m.qty
                if not mq:  # dead record (cancelled): lazy deletion
                    h += 1
                    continue
                if tf_str_eq(m.owner, owner):  # self-trade prevention: cancel the resting order
                    ev.append(_cancelled(seq, cyc, tk, m.oid, m.owner, sym, mq, SELF_TRADE))
                    seq += 1
                    dropped += 1
                    m.qty = 0
                    m.state = DONE
                    ids.put_record(m, None)
                    if indexed:
                        _unindex(owners, m)
                    lvl.qty -= mq
                    lvl.n -= 1
                    h += 1
                    continue
                if mq <= rem:  # the resting order is used up
                    fq = mq
                    m.qty = 0
                    m.state = DONE
                    ids.put_record(m, None)  # forget the record (the id stays known), and free it
                    if indexed:
                        _unindex(owners, m)
                    lvl.n -= 1
                    h += 1
                else:
                    fq = rem
                    m.qty = mq - fq
                if is_buy:
                    t = _trade(seq, cyc, tk, sym, lvl.price_o, fq, oid, m.oid, owner, m.owner, aggressor)
                    m.acct.pos -= fq
                else:
                    t = _trade(seq, cyc, tk, sym, lvl.price_o, fq, m.oid, oid, m.owner, owner, aggressor)
                    m.acct.pos += fq
                seq += 1
                ev.append(t)
                if self.ring_size:
                    self.ring[self.ring_pos] = t
                    self.ring_pos += 1
                    if self.ring_pos == self.ring_size:
                        self.ring_pos = 0
                    if self.ring_n < self.ring_size:
                        self.ring_n += 1
                rem -= fq
                if not rem:
                    break
            lvl.head = h
            taken = r0 - rem
            if taken:
                lvl.qty -= taken
                notional += <tf_i128>px * taken
                if not first:
                    first = px
            if not lvl.n:
                opp.pop()
                nlev -= 1
            elif h > 16 and 2 * h > qn:
                del q[:h]
                lvl.head = 0
        clk.seq = seq
        filled = remaining - rem
        if filled:
            self._booked(owner, is_buy, filled, first, px, notional, seq - start - dropped)
        return filled

    cdef int _booked(self, str owner, bint is_buy, long long filled, long long first, long long last,
                     tf_i128 notional, long long trades) except -1:
        """After an incoming order's fills: its owner's position, the last price and the cycle's bar."""
        cdef Acct a = self._acct(owner)
        cdef BarBuilder bar = self.bar
        cdef long long hi, lo
        a.pos += filled if is_buy else -filled
        self.last_ = last
        self.has_last = True
        if first < last:
            hi, lo = last, first
        else:
            hi, lo = first, last
        if bar.trades_:
            if hi > bar.high_:
                bar.high_ = hi
            if lo < bar.low_:
                bar.low_ = lo
        else:
            bar.open_, bar.high_, bar.low_ = first, hi, lo
        bar.has_close = True
        bar.close_ = last
        bar.volume_ += filled
        bar.notional_ += notional
        bar.trades_ += trades
        return 0

    cdef Acct _acct(self, str owner):
        cdef PyObject* p = PyDict_GetItemWithError(self.accts, owner)
        cdef Acct a
        if p is NULL:
            a = Acct.__new__(Acct)
            self.accts[owner] = a
            return a
        return <Acct>p

    cdef long long _available(self, Order o) except -1:
        """Quantity `o` could take right now within its limit, excluding its owner's resting orders."""
        cdef list opp = self.asks if o.is_buy else self.bids
        cdef long long lim, total = 0
        cdef Py_ssize_t i, j
        cdef Level lvl
        cdef Order m
        if o.price_o is None:
            lim = ANY
        else:
            lim = -o.price if o.is_buy else o.price
        for i in range(PyList_GET_SIZE(opp) - 1, -1, -1):
            lvl = <Level>PyList_GET_ITEM(opp, i)
            if lvl.key < lim or total >= o.qty:
                break
            for j in range(lvl.head, PyList_GET_SIZE(lvl.q)):
                m = <Order>PyList_GET_ITEM(lvl.q, j)
                if m.qty and not tf_str_eq(m.owner, o.owner):
                    total += m.qty
        return total

    cdef int _rest(self, Order o) except -1:
        cdef long long k = o.price if o.is_buy else -o.price
        cdef list side = self.bids if o.is_buy else self.asks
        cdef Py_ssize_t n = PyList_GET_SIZE(side), i
        cdef Level lvl
        cdef PyObject* by
        if n and _best(side).key == k:
            lvl = _best(side)
        elif not n or k > _best(side).key:
            lvl = _new_level(k, o.price_o)
            side.append(lvl)
        else:
            i = _bisect(side, k)
            if (<Level>PyList_GET_ITEM(side, i)).key == k:
                lvl = <Level>PyList_GET_ITEM(side, i)
            else:
                lvl = _new_level(k, o.price_o)
                side.insert(i, lvl)
        lvl.q.append(o)
        lvl.qty += o.qty
        lvl.n += 1
        o.state = RESTING
        if o.acct is None:
            o.acct = self._acct(o.owner)
        self.ids.put_record(o, o)
        if PyDict_Size(self.owners):
            by = PyDict_GetItemWithError(self.owners, o.owner)
            if by is not NULL:
                (<dict>by)[o.oid] = o
        return 0

    cdef Level _level_of(self, Order o):
        cdef list side = self.bids if o.is_buy else self.asks
        cdef long long k = o.price if o.is_buy else -o.price
        return <Level>PyList_GET_ITEM(side, _bisect(side, k))

    cdef long long _remove(self, Order o) except -1:
        """Take a live order (resting or pending stop) out; returns its remaining quantity."""
        cdef long long rem = o.qty, k
        cdef list side
        cdef Py_ssize_t i
        cdef Level lvl
        o.qty = 0
        if o.state == RESTING:
            side = self.bids if o.is_buy else self.asks
            k = o.price if o.is_buy else -o.price
            i = _bisect(side, k)
            lvl = <Level>PyList_GET_ITEM(side, i)
            lvl.qty -= rem
            lvl.n -= 1
            if not lvl.n:
                del side[i]
            elif PyList_GET_SIZE(lvl.q) - lvl.head > 2 * lvl.n + 16:
                lvl.q = [m for m in lvl.q[lvl.head:] if (<Order>m).qty]
                lvl.head = 0
        o.state = DONE
        if PyDict_Size(self.owners):
            by = self.owners.get(o.owner)
            if by is not None:
                by.pop(o.oid, None)
        return rem

    # ----------------------------------------------------------------- stops (market/stops.py)
    cdef int _park_stop(self, Order o) except -1:
        o.state = PENDING_STOP
        self.ids.put_record(o, o)
        by = self.owners.get(o.owner)
        if by is not None:
            by[o.oid] = o
        self._push_stop(o)
        return 0

    cdef int _push_stop(self, Order o) except -1:
        if o.is_buy:
            heappush(self.stops_buy, (o.stop_o, o.arrival, o))
        else:
            heappush(self.stops_sell, (-o.stop, o.arrival, o))
        return 0

    cdef int _run_stops(self, list ev) except -1:
        """Trigger every stop the last trade price has reached, in arrival order, until none is left."""
        self.stopping = True
        try:
            self._stop_loop(ev)
        finally:
            self.stopping = False
        return 0

    cdef int _stop_loop(self, list ev) except -1:
        cdef long long last
        cdef list batch, sb, ss
        cdef Order o
        while True:
            last = self.last_
            batch = []
            sb, ss = self.stops_buy, self.stops_sell
            while sb and <long long>sb[0][0] <= last:
                _, arrival, o = heappop(sb)
                if o.state == PENDING_STOP and o.arrival == arrival:
                    batch.append((o.arrival, o))
            while ss and -<long long>ss[0][0] >= last:
                _, arrival, o = heappop(ss)
                if o.state == PENDING_STOP and o.arrival == arrival:
                    batch.append((o.arrival, o))
            if not batch:
                return 0
            batch.sort()  # by arrival (unique per order, so records are never compared)
            for _, o in batch:
                if o.state == PENDING_STOP:
                    self._trigger(o, ev)

    cdef int _trigger(self, Order o, list ev) except -1:
        cdef Clock clk = self.clock
        cdef long long seq = clk.seq
        ev.append(StopTriggered(seq, clk.cycle, clk.tick, o.oid, o.owner, self.symbol, o.stop_o, self.last_))
        clk.seq = seq + 1
        o.arrival = seq
        by = self.owners.get(o.owner)
        if by is not None:
            by.pop(o.oid, None)
        o.state = DONE
        return self._execute(o, ev)


cdef inline int _unindex(dict owners, Order m) except -1:
    cdef PyObject* by = PyDict_GetItemWithError(owners, m.owner)
    if by is not NULL:
        del (<dict>by)[m.oid]
    return 0


def _book(instrument, Clock clock, tape_size, trades, bids, asks, stops_buy, stops_sell, last, BarBuilder bar, pos):
    """Unpickle an `OrderBook` (the exchange re-attaches `ids` and `owners`)."""
    cdef OrderBook b = OrderBook(instrument, clock, IdTable(), {}, tape_size)
    cdef Level lvl
    cdef Order o
    for owner, p in pos.items():
        b._acct(owner).pos = p
    for t in trades:
        b.ring[b.ring_pos] = tuple.__new__(TradeExecuted, t)
        b.ring_pos = (b.ring_pos + 1) % b.ring_size
        b.ring_n += 1
    for side, levels, sign in ((b.bids, bids, 1), (b.asks, asks, -1)):
        for price, records in levels:
            lvl = _new_level(sign * price, price)
            for o in records:
                o.acct = b._acct(o.owner)
                lvl.q.append(o)
                lvl.qty += o.qty
                lvl.n += 1
            side.append(lvl)
    b.stops_buy = stops_buy
    b.stops_sell = stops_sell
    if last is not None:
        b.has_last = True
        b.last_ = last
    b.bar = bar
    return b


def exchange_submit(self, cmd):
    """`Exchange.submit` on the compiled engine: its fast path for a well-formed LIMIT order, in C.

    Same checks and same result as the Python fast path in market/exchange.py; anything else (or a book of
    the other engine, from an old snapshot) goes through `Exchange._submit_checked`."""
    cdef long long q, p
    cdef int ovf = 0
    cdef Py_ssize_t ix
    cdef PyObject* b
    cdef OrderBook book
    cdef PyObject* oid  # the fields of cmd, borrowed
    cdef PyObject* owner
    cdef PyObject* symbol
    cdef PyObject* side
    cdef PyObject* qty
    cdef PyObject* otype
    cdef PyObject* price
    cdef PyObject* stop
    cdef PyObject* tif
    if type(cmd) is _SUBMIT:
        oid, owner, symbol, side = PyTuple_GET_ITEM(cmd, 0), PyTuple_GET_ITEM(cmd, 1), PyTuple_GET_ITEM(cmd, 2), \
            PyTuple_GET_ITEM(cmd, 3)
        qty, otype, price, stop, tif = PyTuple_GET_ITEM(cmd, 4), PyTuple_GET_ITEM(cmd, 5), PyTuple_GET_ITEM(cmd, 6), \
            PyTuple_GET_ITEM(cmd, 7), PyTuple_GET_ITEM(cmd, 8)
        if (otype == <PyObject*>LIMIT and PyLong_CheckExact(<object>qty) and PyLong_CheckExact(<object>price)
                and PyUnicode_CheckExact(<object>oid) and PyUnicode_CheckExact(<object>owner)
                and PyUnicode_CheckExact(<object>symbol) and Py_TYPE(side) == <PyTypeObject*>_SIDE
                and Py_TYPE(tif) == <PyTypeObject*>_TIF and stop == <PyObject*>None
                and PyUnicode_GET_LENGTH(<object>oid) and PyUnicode_GET_LENGTH(<object>owner)):
            q = PyLong_AsLongLongAndOverflow(<object>qty, &ovf)
            if not ovf:
                p = PyLong_AsLongLongAndOverflow(<object>price, &ovf)
            if not ovf and 0 < q <= MAX_UNITS and 0 < p <= MAX_UNITS:
                b = PyDict_GetItemWithError(self._books, <object>symbol)
                if b is not NULL and type(<object>b) is OrderBook:
                    book = <OrderBook>b
                    if book.lot > 0 and book.tick_size > 0 and q % book.lot == 0 and p % book.tick_size == 0:
                        ix = book.ids.add_new(<str>oid)  # the duplicate check and the insert, in one
                        if ix >= 0:
                            return book._limit(<str>oid, <str>owner, <object>side, side == <PyObject*>BUY, <object>tif,
                                               <object>price, p, <object>qty, q, ix)
    return self._submit_checked(cmd)


# ------------------------------------------------------------------ the Exchange's hot reads and cancel
# Compiled copies of `Exchange.open_qty`, `cancel`, `position`, `best_bid` and `best_ask` (market/exchange.py
# installs them like `exchange_submit` above; its Python methods stay the specification, as `_<name>_python`).
# Each handles the common case in C: exact strs for ids, owners and symbols, the compiled engine's tables
# (an `IdTable` of `Order`s, books of this module's `OrderBook`) and, for cancel, a live order cancelled by
# its owner. Anything else (garbage input, unknown ids on the cancel path, str subclasses, the pure engine's
# tables of an old snapshot) goes to the Python method, so results, events and errors are the same.

cdef inline PyObject* _live_record(object ids, object oid) except? NULL:
    """The table's value for the exact str `oid` when `ids` is an IdTable: NULL if absent (borrowed)."""
    cdef IdTable t = <IdTable>ids
    cdef Py_ssize_t slot, ix = t._find(oid, hash(oid), &slot)
    return NULL if ix < 0 else t.entries[ix].value


def exchange_open_qty(self, order_id):
    """`Exchange.open_qty` on the compiled engine: the open quantity of a live order, else None."""
    cdef object ids
    cdef PyObject* v
    if PyUnicode_CheckExact(order_id):
        ids = self._ids
        if type(ids) is IdTable:
            v = _live_record(ids, order_id)
            if v is NULL or v == <PyObject*>None:
                return None
            if Py_TYPE(v) == <PyTypeObject*>Order:
                return None if (<Order>v).state == DONE else (<Order>v).qty
    return self._open_qty_python(order_id)


def exchange_cancel(self, cmd):
    """`Exchange.cancel` on the compiled engine: its fast path (a live order cancelled by its owner) in C."""
    cdef object ids, books
    cdef PyObject* v
    cdef PyObject* b
    cdef PyObject* oid
    cdef PyObject* owner
    cdef Order o
    if type(cmd) is _CANCEL and PyTuple_GET_SIZE(cmd) == 2:
        oid, owner = PyTuple_GET_ITEM(cmd, 0), PyTuple_GET_ITEM(cmd, 1)
        if PyUnicode_CheckExact(<object>oid) and (owner == <PyObject*>None or PyUnicode_CheckExact(<object>owner)):
            ids, books = self._ids, self._books
            if type(ids) is IdTable and type(books) is dict:
                v = _live_record(ids, <object>oid)
                if v is not NULL and Py_TYPE(v) == <PyTypeObject*>Order:
                    o = <Order>v
                    if o.state != DONE and (owner == <PyObject*>None or tf_str_eq(<str>owner, o.owner)):
                        b = PyDict_GetItemWithError(books, o.symbol)
                        if b is not NULL and type(<object>b) is OrderBook:
                            return [(<OrderBook>b)._cancel(o, REQUESTED)]
    return self._cancel_python(cmd)


cdef object _SLOW = object()  # `_book_for`: the Python method decides


cdef inline object _book_for(object self, object symbol):
    """For an exact-str `symbol` and the compiled engine's dict of books: the symbol's OrderBook, or None when
    no book has that symbol; `_SLOW` in every other case (the Python method decides)."""
    cdef object books
    cdef PyObject* b
    if PyUnicode_CheckExact(symbol):
        books = self._books
        if type(books) is dict:
            b = PyDict_GetItemWithError(books, symbol)
            if b is NULL:
                return None
            if type(<object>b) is OrderBook:
                return <object>b
    return _SLOW


def exchange_position(self, owner, symbol):
    """`Exchange.position` on the compiled engine."""
    cdef PyObject* a
    book = _book_for(self, symbol) if PyUnicode_CheckExact(owner) else _SLOW
    if book is None:
        return 0
    if book is _SLOW:
        return self._position_python(owner, symbol)
    a = PyDict_GetItemWithError((<OrderBook>book).accts, owner)
    return 0 if a is NULL else (<Acct>a).pos


def exchange_best_bid(self, symbol):
    """`Exchange.best_bid` on the compiled engine."""
    return _best_price(self, symbol, True)


def exchange_best_ask(self, symbol):
    """`Exchange.best_ask` on the compiled engine."""
    return _best_price(self, symbol, False)


cdef object _best_price(object self, object symbol, bint bid):
    cdef list side
    book = _book_for(self, symbol)
    if book is None:
        return None
    if book is _SLOW:
        return self._best_bid_python(symbol) if bid else self._best_ask_python(symbol)
    side = (<OrderBook>book).bids if bid else (<OrderBook>book).asks
    return _best(side).price_o if PyList_GET_SIZE(side) else None
