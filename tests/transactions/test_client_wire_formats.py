"""Amounts and moments as the external services read them (spec Part A §10, §8.1, §8.3, §5.8)."""

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from transactions.wire_formats import (
    euro_amount,
    euro_amount_text,
    euro_text,
    italian_receipt_date,
    paris_local_timestamp,
    parse_npg_operation_time,
)

ROME = ZoneInfo("Europe/Rome")


@pytest.mark.parametrize(
    ("cents", "mail_text", "amount"),
    [
        (12345, "123,45", Decimal("123.45")),
        (5, "0,05", Decimal("0.05")),
        (0, "0,00", Decimal("0.00")),
        (100, "1,00", Decimal("1.00")),
        (99, "0,99", Decimal("0.99")),
        (123456789, "1234567,89", Decimal("1234567.89")),
    ],
)
def test_cents_become_euros(cents, mail_text, amount):
    assert euro_text(cents) == mail_text
    assert euro_amount(cents) == amount
    assert euro_amount(cents).as_tuple().exponent == -2
    assert euro_amount_text(cents) == mail_text.replace(",", ".")


@pytest.mark.parametrize(
    ("cents", "amount"), [(Decimal("0.5"), "0.01"), (Decimal("0.49"), "0.00"), (Decimal("150.5"), "1.51")]
)
def test_fractions_of_a_cent_round_half_up(cents, amount):
    assert euro_amount(cents) == Decimal(amount)


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        ("2023-05-01T23:59:59Z", "2023-05-02T01:59:59"),
        ("2023-05-01T23:59:59.999Z", "2023-05-02T01:59:59"),
        ("2023-01-15T10:00:00+00:00", "2023-01-15T11:00:00"),
        ("2023-08-01T10:00:00+02:00", "2023-08-01T10:00:00"),
        (datetime(2023, 10, 29, 0, 30, tzinfo=UTC), "2023-10-29T02:30:00"),
        (datetime(2023, 10, 29, 1, 30, tzinfo=UTC), "2023-10-29T02:30:00"),
    ],
)
def test_close_payment_timestamps_are_paris_local_time_without_offset(moment, text):
    assert paris_local_timestamp(moment) == text


def test_a_moment_without_zone_is_refused():
    with pytest.raises(ValueError, match="time zone"):
        paris_local_timestamp("2023-05-01T23:59:59")


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(2023, 5, 1, 14, 5, 9, tzinfo=ROME), "01 maggio 2023, 14:05:09"),
        # Java's kk counts hours 1-24: the first hour of the day is 24, on the same date.
        (datetime(2023, 5, 2, 0, 30, 0, tzinfo=ROME), "02 maggio 2023, 24:30:00"),
        (datetime(2023, 5, 2, 0, 0, 0, tzinfo=ROME), "02 maggio 2023, 24:00:00"),
        (datetime(2023, 5, 2, 12, 0, 0, tzinfo=ROME), "02 maggio 2023, 12:00:00"),
        (datetime(2023, 5, 2, 23, 59, 59, tzinfo=ROME), "02 maggio 2023, 23:59:59"),
        ("2023-12-31T23:30:00+01:00", "31 dicembre 2023, 23:30:00"),
        ("2024-02-09T08:07:06Z", "09 febbraio 2024, 08:07:06"),
        (datetime(2023, 1, 3, 1, 0, tzinfo=timezone(timedelta(hours=-5))), "03 gennaio 2023, 01:00:00"),
    ],
)
def test_receipt_dates_are_italian_in_the_moments_own_zone(moment, text):
    assert italian_receipt_date(moment) == text


def test_every_month_has_its_italian_name():
    names = [italian_receipt_date(datetime(2023, month, 10, 10, tzinfo=ROME)).split()[1] for month in range(1, 13)]
    assert names == [
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
    ]


@pytest.mark.parametrize(
    ("text", "local", "offset_hours"),
    [
        ("2023-01-15 10:20:30", datetime(2023, 1, 15, 10, 20, 30), 1),
        ("2023-08-15 10:20:30.123", datetime(2023, 8, 15, 10, 20, 30, 123000), 2),
        ("2023-08-15T10:20:30", datetime(2023, 8, 15, 10, 20, 30), 2),
        ("2023-08-15T10:20:30.5", datetime(2023, 8, 15, 10, 20, 30, 500000), 2),
        ("2023-03-26 01:59:59", datetime(2023, 3, 26, 1, 59, 59), 1),
        ("2023-03-26 03:00:00", datetime(2023, 3, 26, 3, 0, 0), 2),
    ],
)
def test_npg_operation_times_are_read_in_cet_with_daylight_saving(text, local, offset_hours):
    moment = parse_npg_operation_time(text)

    assert moment.replace(tzinfo=None) == local
    assert moment.utcoffset() == timedelta(hours=offset_hours)


@pytest.mark.parametrize("text", ["2023-08-15", "2023-08-15T10:20:30+02:00", "2023-08-15 10:20", "", "now", None])
def test_other_operation_time_shapes_are_refused(text):
    with pytest.raises(ValueError, match="operationTime"):
        parse_npg_operation_time(text)
