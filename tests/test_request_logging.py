"""JSON log lines carry the request id, which is also echoed to the caller."""

import json
import logging

import pytest
from django.http import HttpResponse
from django.test import override_settings
from django.urls import path

from dispatcher_site.json_logging import JsonFormatter
from dispatcher_site.request_id import RequestIdLogFilter


def logging_view(request):
    logging.getLogger("tests.view").warning("inside the view")
    return HttpResponse("ok")


urlpatterns = [path("log-something", logging_view)]


@pytest.fixture
def json_records():
    yield from collect_json_lines("tests.view")


@pytest.fixture
def access_records():
    yield from collect_json_lines("dispatcher_site.access")


def collect_json_lines(logger_name):
    lines = []

    class Collect(logging.Handler):
        def emit(self, record):
            lines.append(self.format(record))

    handler = Collect()
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdLogFilter())
    logger = logging.getLogger(logger_name)
    logger.addHandler(handler)
    previous_level = logger.level
    logger.setLevel(logging.INFO)
    yield lines
    logger.setLevel(previous_level)
    logger.removeHandler(handler)


@override_settings(ROOT_URLCONF=__name__)
def test_log_line_is_json_with_the_callers_request_id(client, json_records):
    response = client.get("/log-something", headers={"X-Request-ID": "abc-123"})
    assert response["X-Request-ID"] == "abc-123"
    record = json.loads(json_records[-1])
    assert record["message"] == "inside the view"
    assert record["request_id"] == "abc-123"
    assert record["log.level"] == "WARNING"
    assert "@timestamp" in record


@override_settings(ROOT_URLCONF=__name__)
def test_unusable_request_id_is_replaced_by_a_generated_one(client, json_records):
    response = client.get("/log-something", headers={"X-Request-ID": "bad id with spaces"})
    generated = response["X-Request-ID"]
    assert len(generated) == 32
    assert generated != "bad id with spaces"
    assert json.loads(json_records[-1])["request_id"] == generated


@override_settings(ROOT_URLCONF=__name__)
def test_every_request_gets_one_access_line_without_its_query_string(client, access_records):
    client.get("/log-something?token=callback-secret", headers={"X-Request-ID": "req-42"})
    record = json.loads(access_records[-1])
    assert record["message"].startswith("GET /log-something 200 ")
    assert record["url.path"] == "/log-something"
    assert record["http.status_code"] == 200
    assert record["request_id"] == "req-42"
    assert "callback-secret" not in access_records[-1]
