"""manage.py create_service prints one JSON object a script can use with Notify's client straight away."""

import json

import pytest
from django.core.management import CommandError, call_command

from notifications.models import ApiKey, Service, Template


def create(capsys, *args) -> dict:
    call_command("create_service", *args)
    return json.loads(capsys.readouterr().out)


def test_a_service_with_a_normal_key_a_test_key_and_both_templates(db, capsys):
    result = create(
        capsys,
        "Demo",
        "--sms-template",
        "Code ((code))",
        "--email-template",
        "Hello ((name))",
        "Body ((name))",
        "--reply-to",
        "help@example.com",
    )

    service = Service.objects.get(id=result["service_id"])
    assert service.name == "Demo"
    assert service.reply_to_email_address == "help@example.com"
    assert service.email_from == "demo@notifications.localhost"
    assert result["api_key"][-73:-37] == result["service_id"]
    assert result["test_api_key"][-73:-37] == result["service_id"]
    keys = {key.key_type: key for key in ApiKey.objects.filter(service=service)}
    assert keys["normal"].secret == result["api_key"][-36:]
    assert keys["test"].secret == result["test_api_key"][-36:]
    assert result["test_api_key"].startswith("test-")
    types = {t["type"]: t for t in result["templates"]}
    assert Template.objects.get(id=types["sms"]["id"]).content == "Code ((code))"
    email = Template.objects.get(id=types["email"]["id"])
    assert (email.subject, email.content) == ("Hello ((name))", "Body ((name))")


def test_the_secret_is_not_stored_in_clear(db, capsys):
    result = create(capsys, "Demo")
    for key_string in (result["api_key"], result["test_api_key"]):
        assert not ApiKey.objects.filter(encrypted_secret__contains=key_string[-36:]).exists()
    assert result["templates"] == []


def test_a_duplicate_name_is_refused(db, capsys):
    create(capsys, "Demo")
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_service", "Demo")
