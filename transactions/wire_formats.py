"""How amounts and moments are written for, and read from, the external services (spec Part B §8).

Amounts are integer euro cents everywhere inside the service; these functions are the only places
that turn them into euros, with decimal arithmetic. Time zones are named zones from `zoneinfo`,
never fixed offsets, so daylight saving time is always right.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

CENT = Decimal("0.01")
# closePayment's additional payment information is rendered in Paris local time (spec §8.1).
CLOSE_PAYMENT_ZONE = ZoneInfo("Europe/Paris")
# NPG's operationTime carries no offset and is Central European time (spec §5.8).
NPG_OPERATION_TIME_ZONE = ZoneInfo("CET")

ITALIAN_MONTHS = (
    "gennaio",
    "febbraio",
    "marzo",
    "aprile",
    "maggio",
    "giugno",
    "luglio",
    "agosto",
    "settembre",
    "ottobre",
    "novembre",
    "dicembre",
)

_NPG_LOCAL_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,9})?")


def euro_amount(cents: int | Decimal) -> Decimal:
    """Cents as euros with two decimals, HALF_UP (closePayment's totalAmount and fee): 12345 → 123.45."""
    return (Decimal(cents) / 100).quantize(CENT, rounding=ROUND_HALF_UP)


def euro_amount_text(cents: int) -> str:
    """The same amount as text with a point: 12345 → "123.45", 5 → "0.05" (closePayment strings)."""
    return str(euro_amount(cents))


def euro_text(cents: int) -> str:
    """Cents as the receipt mail writes euros, with a decimal comma: 12345 → "123,45", 5 → "0,05"."""
    return euro_amount_text(cents).replace(".", ",")


def _aware(moment: datetime | str) -> datetime:
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment.tzinfo is None:
        raise ValueError("a moment without a time zone is ambiguous")
    return moment


def paris_local_timestamp(moment: datetime | str) -> str:
    """Paris local time, truncated to seconds, without offset: 2023-05-01T23:59:59Z → 2023-05-02T01:59:59."""
    local = _aware(moment).astimezone(CLOSE_PAYMENT_ZONE)
    return local.replace(microsecond=0, tzinfo=None).isoformat()


def italian_receipt_date(moment: datetime | str) -> str:
    """The receipt mail's `dd LLLL yyyy, kk:mm:ss` in it-IT, in the moment's own zone.

    Java's `kk` is the clock hour 1-24, so the first hour of the day prints as 24
    ("02 maggio 2023, 24:30:00" is half past midnight on 2 May); the reference formats that way.
    """
    moment = _aware(moment)
    clock_hour = moment.hour or 24
    month = ITALIAN_MONTHS[moment.month - 1]
    return f"{moment.day:02d} {month} {moment.year:04d}, {clock_hour:02d}:{moment.minute:02d}:{moment.second:02d}"


def parse_npg_operation_time(text: str) -> datetime:
    """NPG's `yyyy-MM-dd HH:mm:ss[.SSS]` (or ISO local `T` form) as an aware datetime in CET.

    CET here is the zone with daylight saving time: January is +01:00, August +02:00.
    """
    if not isinstance(text, str) or not _NPG_LOCAL_TIME.fullmatch(text):
        raise ValueError("operationTime is not yyyy-MM-dd HH:mm:ss[.SSS]")
    date_part, time_part = text[:10], text[11:]
    seconds, _, fraction = time_part.partition(".")
    local = datetime.fromisoformat(f"{date_part}T{seconds}")
    if fraction:
        local = local.replace(microsecond=int(fraction[:6].ljust(6, "0")))
    return local.replace(tzinfo=NPG_OPERATION_TIME_ZONE)
