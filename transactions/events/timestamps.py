"""Date-times as the reference writes them: Java's ZonedDateTime.toString(), e.g.
`2023-09-25T14:44:31.177776+02:00[Europe/Rome]`. Zones come from zoneinfo, never fixed offsets."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# The reference runs its JVM in Italy: new events carry this zone, as ZonedDateTime.toString() writes it.
EVENT_ZONE = ZoneInfo("Europe/Rome")
ZONED_DATETIME_PATTERN = re.compile(r"(?P<datetime>[^\[\]]+)(?:\[(?P<zone>[^\[\]]+)\])?")


def now_zoned_text(zone: ZoneInfo = EVENT_ZONE) -> str:
    """The current time as Java's ZonedDateTime.toString() writes it: ISO offset plus `[Region/City]`."""
    return f"{datetime.now(zone).isoformat()}[{zone.key}]"


def zoned_text(moment: datetime, zone: ZoneInfo = EVENT_ZONE) -> str:
    return f"{moment.astimezone(zone).isoformat()}[{zone.key}]"


def parse_zoned_datetime(text: str) -> datetime:
    """Parse `2023-09-25T14:44:31.177776+02:00[Europe/Rome]` or a plain ISO offset date-time.

    Raises ValueError when the text has no offset or names an unknown zone.
    """
    match = ZONED_DATETIME_PATTERN.fullmatch(text)
    if not match:
        raise ValueError(f"{text!r} is not an ISO date-time with offset")
    moment = datetime.fromisoformat(match["datetime"])
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset")
    if match["zone"]:
        try:
            moment = moment.astimezone(ZoneInfo(match["zone"]))
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"{text!r} names an unknown time zone") from error
    return moment
