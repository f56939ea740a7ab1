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
    lines = []

    class Collect(logging.Handler):
        def emit(self, record):
            lines.append(self.format(record))

    handler = Collect()
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdLogFilter())
    logger = logging.getLogger("tests.view")
    logger.addHandler(handler)
    yield lines
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
