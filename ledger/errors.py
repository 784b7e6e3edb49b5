"""Rejection reasons and the ledger's exception.

Every refused request carries a machine-readable `RejectCode` and a human sentence. Requests that are
refused write nothing. Programming errors (unknown run, writing into a fork's inherited past, ...)
raise `LedgerError`, which carries the same pair.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class RejectCode(StrEnum):
    NON_POSITIVE_QTY = "non_positive_qty"
    NON_POSITIVE_PRICE = "non_positive_price"
    NON_POSITIVE_AMOUNT = "non_positive_amount"
    UNKNOWN_ACCOUNT = "unknown_account"
    UNKNOWN_SYMBOL = "unknown_symbol"
    UNKNOWN_ORDER = "unknown_order"
    DUPLICATE_ACCOUNT = "duplicate_account"
    DUPLICATE_ORDER = "duplicate_order"
    DUPLICATE_ID_CONFLICT = "duplicate_id_conflict"
    INSUFFICIENT_CASH = "insufficient_cash"
    INSUFFICIENT_SHARES = "insufficient_shares"
    SHORT_LIMIT = "short_limit_exceeded"
    BAD_SIDE = "bad_side"
    SELF_TRADE = "self_trade"
    PRICE_BEYOND_LIMIT = "price_beyond_limit"
    OVERFILL = "overfill"
    CYCLE_MISMATCH = "cycle_mismatch"
    NO_ACTIVE_RUN = "no_active_run"
    INHERITED_PAST = "inherited_past"
    FEE_FIXED = "fee_fixed"  # a branch's fee can change only before it settles anything of its own
    ABORTED = "aborted"  # a transaction opened with savepoints=False had a failed request: rolled back


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a request was refused: `code` for machines, `message` for people. Nothing was written."""

    code: RejectCode
    message: str

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class LedgerError(Exception):
    """Raised for misuse of the API (not for ordinary trading rejections, which are returned)."""

    def __init__(self, code: RejectCode, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    @property
    def rejection(self) -> Rejection:
        return Rejection(self.code, self.message)
