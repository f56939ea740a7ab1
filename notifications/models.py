"""Models of the notifications app: services, their API keys and templates, notifications, daily statistics.

Statuses are the September 2016 enum of the reference service (spec notifications.md Part B §2.1).
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date

from django.db import IntegrityError, models, transaction
from django.db.models import F
from django.utils import timezone

from notifications import secrets

CREATED = "created"
SENDING = "sending"
DELIVERED = "delivered"
PENDING = "pending"
FAILED = "failed"
TECHNICAL_FAILURE = "technical-failure"
TEMPORARY_FAILURE = "temporary-failure"
PERMANENT_FAILURE = "permanent-failure"

NOTIFICATION_STATUSES = (
    CREATED,
    SENDING,
    DELIVERED,
    PENDING,
    FAILED,
    TECHNICAL_FAILURE,
    TEMPORARY_FAILURE,
    PERMANENT_FAILURE,
)
FAILURE_STATUSES = (FAILED, TECHNICAL_FAILURE, TEMPORARY_FAILURE, PERMANENT_FAILURE)
# A status may still change only from these; every other status is final (Part A §3).
UPDATABLE_STATUSES = (CREATED, SENDING, PENDING)

SMS = "sms"
EMAIL = "email"
NOTIFICATION_TYPES = (SMS, EMAIL)

_PLACEHOLDER = re.compile(r"\(\(([^()]+)\)\)")


def _placeholder_key(name: str) -> str:
    # Notify matches placeholders without regard to case or spaces.
    return re.sub(r"\s", "", name).lower()


class Service(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=255, unique=True)
    email_from = models.EmailField(help_text="From address of the service's e-mails.")
    reply_to_email_address = models.EmailField(blank=True, default="")
    sms_sender = models.CharField(max_length=11, blank=True, default="")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ApiKey(models.Model):
    """A service's API key. The secret is kept encrypted: HS256 needs it back to check signatures."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=255)
    encrypted_secret = models.TextField(editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(blank=True, null=True)

    class Meta:
        verbose_name = "API key"
        constraints = [models.UniqueConstraint(fields=["service", "name"], name="uix_service_api_key_name")]

    def __str__(self) -> str:
        return f"{self.service} / {self.name}"

    @classmethod
    def issue(cls, service: Service, name: str) -> tuple[ApiKey, str]:
        """A new key and the full key string `<name>-<service id>-<secret>`, shown once and never stored."""
        secret = str(uuid.uuid4())
        key = cls.objects.create(service=service, name=name, encrypted_secret=secrets.encrypt(secret))
        return key, f"{name}-{service.id}-{secret}"

    @property
    def secret(self) -> str:
        return secrets.decrypt(self.encrypted_secret)

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def revoke(self) -> None:
        ApiKey.objects.filter(id=self.id, revoked_at=None).update(revoked_at=timezone.now())
        self.refresh_from_db(fields=["revoked_at"])


class Template(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="templates")
    name = models.CharField(max_length=255)
    template_type = models.CharField(max_length=5, choices=[(t, t) for t in NOTIFICATION_TYPES])
    subject = models.TextField(blank=True, default="", help_text="E-mail templates only.")
    content = models.TextField()
    version = models.PositiveIntegerField(default=1, editable=False)
    archived = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["service", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.template_type}, v{self.version})"

    def save(self, *args, **kwargs) -> None:
        # A change of what recipients read is a new version; notifications keep the version they used.
        if not self._state.adding:
            previous = Template.objects.filter(pk=self.pk).values("subject", "content").first()
            if previous and (previous["subject"], previous["content"]) != (self.subject, self.content):
                self.version += 1
        super().save(*args, **kwargs)

    def placeholders(self) -> list[str]:
        names: dict[str, str] = {}
        for text in (self.subject, self.content):
            for name in _PLACEHOLDER.findall(text):
                names.setdefault(_placeholder_key(name), name.strip())
        return list(names.values())

    def missing_personalisation(self, personalisation: dict) -> list[str]:
        given = {_placeholder_key(k) for k in personalisation}
        return [name for name in self.placeholders() if _placeholder_key(name) not in given]

    def render(self, personalisation: dict) -> tuple[str, str | None]:
        """(body, subject) with every `((placeholder))` replaced; subject is None for SMS."""
        values = {_placeholder_key(k): str(v) for k, v in personalisation.items()}

        def fill(text: str) -> str:
            return _PLACEHOLDER.sub(lambda m: values.get(_placeholder_key(m.group(1)), m.group(0)), text)

        return fill(self.content), fill(self.subject) if self.template_type == EMAIL else None


class Notification(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Every index is written again when a receipt changes the status (the status is indexed, so the
    # update is never HOT): only the indexes the queries need. `service` is the composite's first column;
    # templates are archived and keys revoked, not deleted, so their foreign keys go without an index.
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="notifications", db_index=False)
    api_key = models.ForeignKey(
        ApiKey, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )
    template = models.ForeignKey(Template, on_delete=models.PROTECT, related_name="notifications", db_index=False)
    template_version = models.PositiveIntegerField()
    notification_type = models.CharField(max_length=5, choices=[(t, t) for t in NOTIFICATION_TYPES])
    to = models.CharField(max_length=320)
    body = models.TextField()
    subject = models.TextField(blank=True, default="")
    status = models.CharField(max_length=17, choices=[(s, s) for s in NOTIFICATION_STATUSES], default=CREATED)
    reference = models.CharField(max_length=255, blank=True, default="", help_text="Provider's id.")
    client_reference = models.CharField(max_length=1000, blank=True, default="")
    sent_by = models.CharField(max_length=20, blank=True, default="", help_text="Provider.")
    provider_status = models.CharField(max_length=50, blank=True, default="", help_text="Raw status of the receipt.")
    provider_code = models.CharField(max_length=50, blank=True, default="", help_text="Raw code of the receipt.")
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(blank=True, null=True)
    updated_at = models.DateTimeField(blank=True, null=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        # Recipients and bodies are personal data: lists show them masked unless the user holds this.
        permissions = [("view_recipient", "Can see notification recipients and message bodies")]
        indexes = [
            models.Index(fields=["service", "created_at"], name="notification_service_created"),
            models.Index(fields=["status", "created_at"], name="notification_status_created"),
            # A plain index: a CharField's db_index would add a second, LIKE-pattern index on PostgreSQL.
            models.Index(fields=["reference"], name="notification_reference"),
        ]

    def __str__(self) -> str:
        return f"{self.notification_type} {self.id} ({self.status})"

    @property
    def statistics_day(self) -> date:
        """The statistics row a notification counts in: the UTC day it was created."""
        return self.created_at.astimezone(UTC).date()


class DailyStatistics(models.Model):
    """Counters per service and UTC day of creation (Part A §4); `rebuild_statistics` proves them."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="daily_statistics")
    day = models.DateField(db_index=True)
    emails_requested = models.BigIntegerField(default=0)
    emails_delivered = models.BigIntegerField(default=0)
    emails_failed = models.BigIntegerField(default=0)
    sms_requested = models.BigIntegerField(default=0)
    sms_delivered = models.BigIntegerField(default=0)
    sms_failed = models.BigIntegerField(default=0)

    COUNTERS = (
        "emails_requested",
        "emails_delivered",
        "emails_failed",
        "sms_requested",
        "sms_delivered",
        "sms_failed",
    )

    class Meta:
        verbose_name = "daily statistics"
        verbose_name_plural = "daily statistics"
        ordering = ["-day", "service"]
        constraints = [models.UniqueConstraint(fields=["service", "day"], name="uix_service_to_day")]

    def __str__(self) -> str:
        return f"{self.service} {self.day}"

    @staticmethod
    def counter(notification_type: str, outcome: str) -> str:
        """The column for a notification type and an outcome (requested, delivered or failed)."""
        return f"{'sms' if notification_type == SMS else 'emails'}_{outcome}"

    @classmethod
    def add(cls, service_id: uuid.UUID, day: date, counter: str, amount: int = 1) -> None:
        """Add to one counter atomically (`col = col + n`), creating the row on the day's first use."""
        if cls.objects.filter(service_id=service_id, day=day).update(**{counter: F(counter) + amount}):
            return
        try:
            with transaction.atomic():
                cls.objects.create(service_id=service_id, day=day, **{counter: amount})
        except IntegrityError:
            # Another transaction created the row first: ours is now an ordinary increment.
            cls.objects.filter(service_id=service_id, day=day).update(**{counter: F(counter) + amount})
