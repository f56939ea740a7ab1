"""Personal data masking: e-mail addresses and phone numbers never appear in clear in logs or displays."""

import io
import json
import logging

import pytest

from dispatcher_site.json_logging import JsonFormatter
from dispatcher_site.pii import PersonalDataLogFilter, mask_email, mask_phone, mask_recipient, mask_text
from tests.receivers.conftest import send_probe


@pytest.mark.parametrize(
    ("recipient", "masked"),
    [
        ("0770090123", "07*****123"),
        ("07700900123", "07******123"),
        ("+447700900123", "+44*******123"),
        ("jane@example.com", "j***@example.com"),
        ("j@example.com", "j***@example.com"),
    ],
)
def test_recipients_keep_only_what_tells_them_apart(recipient, masked):
    assert mask_recipient(recipient) == masked


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("mail to jane.doe+x@example.co.uk failed", "mail to j***@example.co.uk failed"),
        ('{"to": "07700900123"}', '{"to": "07******123"}'),
        ("+39 333 123 4567 and 3331234567", "+39 *** *** *567 and 33*****567"),
        ("call 07700 900 123.", "call 07*** *** 123."),
        ("0039 06 1234 5678", "00** ** **** *678"),
        ('"MSISDN": "447777349060"', '"MSISDN": "44*******060"'),
    ],
)
def test_addresses_and_numbers_inside_text_are_masked(text, masked):
    assert mask_text(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "0d4a1f7e2b6c4b5a9e3d8c7b6a5f4e3d",  # transaction id
        "77777777777302016723749670035",  # rptId, 29 digits
        "1700000000000",  # epoch milliseconds
        "1700000000",  # epoch seconds
        "12345 cents",
        "2026-11-27 10:00:00",
        "http://127.0.0.1:10001/devstoreaccount1",
        "f47ac10b-58cc-4372-a567-0e02b2c3d479",
        "id 2345678901234567",  # 16 digits: longer than any phone number
        '"paFiscalCode": "77777777777"',  # an organisation's fiscal code
        '"brokerName": "00799960158"',
        '"rrn": "231234567890"',
        '"pspChannelCode": "00799960158_01"',
    ],
)
def test_identifiers_times_and_amounts_stay_readable(text):
    assert mask_text(text) == text


def test_short_values_are_hidden_whole():
    assert mask_phone("12345") == "*****"
    assert mask_email("@example.com") == "***"


def json_log_line(emit) -> dict:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(PersonalDataLogFilter())
    handler.addFilter(lambda record: setattr(record, "request_id", "-") or True)
    logger = logging.getLogger("tests.pii")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        emit(logger)
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    return json.loads(stream.getvalue())


def test_a_log_line_masks_its_message_and_arguments():
    line = json_log_line(lambda logger: logger.warning("receipt for %s from %s", "jane@example.com", "07700900123"))

    assert line["message"] == "receipt for j***@example.com from 07******123"


def test_a_log_line_masks_the_exception_it_carries():
    def emit(logger):
        try:
            raise ValueError("bad address jane@example.com")
        except ValueError:
            logger.exception("sending failed")

    line = json_log_line(emit)

    assert "bad address j***@example.com" in line["exc_info"]
    assert "jane@example.com" not in json.dumps(line)


def test_a_log_call_with_wrong_arguments_never_raises_into_the_caller_and_leaks_nothing():
    line = json_log_line(lambda logger: logger.warning("%d receipts for", "jane@example.com"))

    assert line["message"].startswith("unformattable log message: %d receipts for")
    assert "jane@example.com" not in json.dumps(line)


def test_the_service_logs_through_the_filter(settings):
    assert "personal_data" in settings.LOGGING["handlers"]["stdout"]["filters"]


@pytest.mark.django_db(transaction=True)
def test_a_real_consumer_never_logs_an_address_it_read(start_consumer):
    send_probe({"jane.doe@example.com": True})  # an unknown option: parsing fails and names it
    consumer = start_consumer("probe", "--once")

    assert consumer.wait() == 0
    assert "dead-lettered message from probe as EVENT_PARSING_ERROR" in consumer.output
    assert "j***@example.com" in consumer.output
    assert "jane.doe@example.com" not in consumer.output
