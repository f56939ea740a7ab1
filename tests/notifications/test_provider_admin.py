"""The provider table in the admin (Part A §7): priority and activity edited, each change a version with who
and when, the history shown under the provider; providers are neither added nor deleted by hand."""

import pytest
from django.urls import reverse

from notifications.models import ApiKey, Provider, ProviderHistory


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_the_migration_seeds_the_providers_with_their_first_version(db):
    rows = Provider.objects.order_by("notification_type", "priority").values_list(
        "identifier", "notification_type", "priority", "active", "version"
    )
    assert list(rows) == [("ses", "email", 10, True, 1), ("firetext", "sms", 10, True, 1), ("mmg", "sms", 20, True, 1)]
    assert ProviderHistory.objects.filter(version=1).count() == 3
    assert Provider.active_identifiers("sms") == ["firetext", "mmg"]


def test_a_change_in_the_form_is_a_new_version_recorded_with_its_author(admin_client, admin_user, db):
    url = reverse("admin:notifications_provider_change", args=["mmg"])
    form = {"priority": "5", "active": "on", "history-TOTAL_FORMS": "1", "history-INITIAL_FORMS": "1"}
    form |= {"history-MIN_NUM_FORMS": "0", "history-MAX_NUM_FORMS": "1000"}
    form |= {"history-0-id": str(ProviderHistory.objects.get(provider_id="mmg").id), "history-0-provider": "mmg"}

    response = admin_client.post(url, form)

    assert response.status_code == 302, response.content.decode()[:2000]
    mmg = Provider.objects.get(identifier="mmg")
    assert (mmg.priority, mmg.version, mmg.updated_by) == (5, 2, admin_user.username)
    latest = ProviderHistory.objects.get(provider=mmg, version=2)
    assert (latest.priority, latest.active, latest.changed_by) == (5, True, admin_user.username)
    assert Provider.active_identifiers("sms") == ["mmg", "firetext"]
    page = admin_client.get(url).content.decode()
    assert "migration 0002" in page
    assert admin_user.username in page


def test_the_list_switches_a_provider_off(admin_client, db):
    url = reverse("admin:notifications_provider_changelist")
    providers = list(Provider.objects.order_by("notification_type", "priority", "identifier"))
    form = {"form-TOTAL_FORMS": str(len(providers)), "form-INITIAL_FORMS": str(len(providers)), "_save": "Save"}
    for index, provider in enumerate(providers):
        form[f"form-{index}-identifier"] = provider.identifier
        form[f"form-{index}-priority"] = str(provider.priority)
        if provider.identifier != "firetext":
            form[f"form-{index}-active"] = "on"

    response = admin_client.post(url, form)

    assert response.status_code == 302
    firetext = Provider.objects.get(identifier="firetext")
    assert (firetext.active, firetext.version) == (False, 2)
    assert Provider.active_identifiers("sms") == ["mmg"]
    assert ProviderHistory.objects.filter(provider=firetext).count() == 2


def test_providers_are_neither_added_nor_deleted_by_hand(admin_client, db):
    assert admin_client.get(reverse("admin:notifications_provider_add")).status_code == 403
    assert admin_client.get(reverse("admin:notifications_provider_delete", args=["ses"])).status_code == 403


def test_api_keys_show_their_type(admin_client, api_key):
    ApiKey.issue(ApiKey.objects.get().service, "test", key_type="test")
    response = admin_client.get(reverse("admin:notifications_apikey_changelist") + "?key_type__exact=test")
    content = response.content.decode()
    assert response.status_code == 200
    assert "test-key" not in content
    assert ">test<" in content
