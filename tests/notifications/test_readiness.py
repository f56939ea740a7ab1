"""The providers in `/health/readiness` (Part A §7): which each type uses, in order, and whether they can."""

import pytest

from notifications.models import Provider
from tests.notifications.conftest import configure

# Readiness reads the providers on threads of its own, with connections of their own: committed rows only.
pytestmark = pytest.mark.django_db(transaction=True)


def providers_report(client) -> dict:
    response = client.get("/health/readiness")
    assert response.status_code == 200, "providers never fail readiness"
    return response.json()["providers"]


def test_every_active_provider_configured_is_up(client, sms_providers, ses):
    report = providers_report(client)
    assert report["status"] == "UP"
    assert report["sms"] == [{"provider": "firetext", "configured": True}, {"provider": "mmg", "configured": True}]
    assert report["email"] == [{"provider": "ses", "configured": True}]
    assert report["problems"] == []


def test_an_active_provider_without_its_variables_is_degraded_unless_simulated(client, sms_providers, ses, settings):
    configure(settings, MMG_PASSWORD="")
    report = providers_report(client)
    assert (report["status"], report["problems"]) == ("DEGRADED", ["mmg is active but not configured"])

    configure(settings, SIMULATE_UNCONFIGURED_PROVIDERS=True)
    assert providers_report(client)["status"] == "UP"


def test_order_follows_priority_and_inactive_providers_are_left_out(client, sms_providers, ses):
    Provider.objects.filter(identifier="mmg").update(priority=1)
    Provider.objects.filter(identifier="ses").update(active=False)
    report = providers_report(client)
    assert [entry["provider"] for entry in report["sms"]] == ["mmg", "firetext"]
    assert report["problems"] == ["no active email provider: email notifications wait"]
