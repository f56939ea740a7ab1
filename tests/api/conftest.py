"""Fixtures of the cross-API tests: the notifications service and key, a client that shows 500s."""

import pytest
from django.test import Client

from tests.notifications.conftest import (  # noqa: F401 (fixtures)
    api_key,
    email_template,
    service,
    sms_template,
    sns,
    sns_https_server,
)


@pytest.fixture
def raw_client():
    """A test client that returns a 500 response instead of re-raising the view's exception."""
    return Client(raise_request_exception=False)
