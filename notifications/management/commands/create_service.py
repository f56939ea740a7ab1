"""Create a service, a normal and a test API key and templates, and print them as one JSON object (for
scripts and demos). The test key's notifications go to no provider: they take Notify's simulated outcomes."""

import json

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.text import slugify

from notifications.models import EMAIL, KEY_TYPE_TEST, SMS, ApiKey, Service, Template

# A reserved name (RFC 6761): demos must not send mail as someone's real domain.
DEFAULT_EMAIL_DOMAIN = "notifications.localhost"


class Command(BaseCommand):
    help = "Create a service with a normal and a test API key and optional SMS and e-mail templates; prints JSON."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--sms-template", metavar="TEXT", help="Content of an SMS template.")
        parser.add_argument("--email-template", nargs=2, metavar=("SUBJECT", "BODY"), help="An e-mail template.")
        parser.add_argument("--reply-to", metavar="ADDRESS", help="Reply-to e-mail address of the service.")
        parser.add_argument(
            "--email-from", metavar="ADDRESS", help=f"From address of e-mails (default <name>@{DEFAULT_EMAIL_DOMAIN})."
        )
        parser.add_argument("--sms-sender", default="", help="SMS sender name (at most 11 characters).")

    def handle(self, *args, name, sms_template, email_template, reply_to, email_from, sms_sender, **options):
        if Service.objects.filter(name=name).exists():
            raise CommandError(f"a service named {name!r} already exists")
        with transaction.atomic():
            service = Service.objects.create(
                name=name,
                email_from=email_from or f"{slugify(name).replace('-', '.') or 'service'}@{DEFAULT_EMAIL_DOMAIN}",
                reply_to_email_address=reply_to or "",
                sms_sender=sms_sender[:11],
            )
            _, api_key = ApiKey.issue(service, "default")
            _, test_api_key = ApiKey.issue(service, "test", key_type=KEY_TYPE_TEST)
            templates = []
            if sms_template:
                templates.append(
                    Template.objects.create(
                        service=service, name=f"{name} SMS", template_type=SMS, content=sms_template
                    )
                )
            if email_template:
                subject, body = email_template
                templates.append(
                    Template.objects.create(
                        service=service, name=f"{name} e-mail", template_type=EMAIL, subject=subject, content=body
                    )
                )
        result = {
            "service_id": str(service.id),
            "api_key": api_key,
            "test_api_key": test_api_key,
            "templates": [{"id": str(t.id), "type": t.template_type, "version": t.version} for t in templates],
        }
        self.stdout.write(json.dumps(result))
