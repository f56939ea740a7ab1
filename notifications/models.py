"""Models of the notifications app: services, their API keys and templates, notifications, daily statistics.

Statuses are the September 2016 enum of the reference service (spec notifications.md Part B §2.1).
"""

from __future__ import annotations

import functools
import random
import re
import uuid
from datetime import UTC, date

from django.conf import settings
from django.db import models, transaction
from django.db.models import F, Min, OuterRef, Subquery, Sum
from django.utils import timezone

from dispatcher_site.prepared_updates import PreparedUpdate
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

# Notify's API key types: `test` keys send nothing to providers and take simulated outcomes (Part A §7).
KEY_TYPE_NORMAL = "normal"
KEY_TYPE_TEAM = "team"
KEY_TYPE_TEST = "test"
KEY_TYPES = (KEY_TYPE_NORMAL, KEY_TYPE_TEAM, KEY_TYPE_TEST)

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
    key_type = models.CharField(
        max_length=6,
        choices=[(t, t) for t in KEY_TYPES],
        default=KEY_TYPE_NORMAL,
        help_text="test: notifications go to no provider, take simulated outcomes and are not counted.",
    )
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(blank=True, null=True)

    class Meta:
        verbose_name = "API key"
        constraints = [models.UniqueConstraint(fields=["service", "name"], name="uix_service_api_key_name")]

    def __str__(self) -> str:
        return f"{self.service} / {self.name}"

    @classmethod
    def issue(cls, service: Service, name: str, key_type: str = KEY_TYPE_NORMAL) -> tuple[ApiKey, str]:
        """A new key and the full key string `<name>-<service id>-<secret>`, shown once and never stored."""
        secret = str(uuid.uuid4())
        key = cls.objects.create(
            service=service, name=name, key_type=key_type, encrypted_secret=secrets.encrypt(secret)
        )
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
    receipt_template_id = models.CharField(
        max_length=32,
        blank=True,
        default="",
        editable=False,
        help_text="The templateId of POST /emails this template renders (from the project's files); "
        "the v2 API does not offer such templates.",
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["service", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["service", "receipt_template_id"],
                condition=~models.Q(receipt_template_id=""),
                name="uix_service_receipt_template",
            )
        ]

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
    html_body = models.TextField(blank=True, default="", help_text="E-mails rendered from HTML templates only.")
    subject = models.TextField(blank=True, default="")
    key_type = models.CharField(max_length=6, choices=[(t, t) for t in KEY_TYPES], default=KEY_TYPE_NORMAL)
    status = models.CharField(max_length=17, choices=[(s, s) for s in NOTIFICATION_STATUSES], default=CREATED)
    reference = models.CharField(max_length=255, blank=True, default="", help_text="Provider's id.")
    client_reference = models.CharField(max_length=1000, blank=True, default="")
    sent_by = models.CharField(max_length=20, blank=True, default="", help_text="Provider.")
    provider_status = models.CharField(max_length=50, blank=True, default="", help_text="Raw status of the receipt.")
    provider_code = models.CharField(max_length=50, blank=True, default="", help_text="Raw code of the receipt.")
    billable_units = models.PositiveIntegerField(default=0, help_text="SMS fragments sent (e-mails: 0).")
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(blank=True, null=True)
    updated_at = models.DateTimeField(blank=True, null=True)
    # A consumer calling a provider for this notification holds it until then (notifications.sending).
    send_claimed_until = models.DateTimeField(blank=True, null=True, editable=False)

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

    @property
    def counts_in_statistics(self) -> bool:
        """Test-key notifications are simulated and never counted (Part A §4, §7)."""
        return self.key_type != KEY_TYPE_TEST


class DailyStatisticsQuerySet(models.QuerySet):
    def per_day(self) -> models.QuerySet:
        """One row of values per (service, day): each counter summed over the day's slots, and `id`,
        the day's first row (what the statistics API names)."""
        counters = {name: Sum(name) for name in DailyStatistics.COUNTERS}
        return self.values("service_id", "day").annotate(id=Min("id"), **counters).order_by("-day", "service_id")

    def with_day_totals(self) -> models.QuerySet:
        """Each day's first row (slot 0), annotated `total_<counter>`: the day's counter over all its slots
        (for model-based pages such as the admin's list)."""
        siblings = DailyStatistics.objects.filter(service_id=OuterRef("service_id"), day=OuterRef("day")).order_by()
        totals = {
            f"total_{name}": Subquery(siblings.values("service_id").annotate(total=Sum(name)).values("total")[:1])
            for name in DailyStatistics.COUNTERS
        }
        return self.filter(slot=0).annotate(**totals)


class DailyStatistics(models.Model):
    """Counters per service and UTC day of creation (Part A §4); `rebuild_statistics` proves them.

    A day's counters are spread over STATISTICS_COUNTER_SLOTS rows (`slot` 0, 1, …): each increment
    adds to one slot chosen at random, so concurrent receipts of one service and day do not queue for
    one row's lock until their transactions commit. A day's figure is the sum over its slots
    (`DailyStatistics.objects.per_day()`); slot 0 exists for every day that has any row.
    """

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="daily_statistics")
    day = models.DateField(db_index=True)
    slot = models.PositiveSmallIntegerField(default=0)
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

    objects = DailyStatisticsQuerySet.as_manager()

    class Meta:
        verbose_name = "daily statistics"
        verbose_name_plural = "daily statistics"
        ordering = ["-day", "service", "slot"]
        constraints = [models.UniqueConstraint(fields=["service", "day", "slot"], name="uix_service_to_day_slot")]

    def __str__(self) -> str:
        return f"{self.service} {self.day}"

    @staticmethod
    def counter(notification_type: str, outcome: str) -> str:
        """The column for a notification type and an outcome (requested, delivered or failed)."""
        return f"{'sms' if notification_type == SMS else 'emails'}_{outcome}"

    @classmethod
    def add(cls, service_id: uuid.UUID, day: date, counter: str, amount: int = 1) -> None:
        """Add to one counter of one slot atomically (`col = col + n`): one UPDATE, unless the day has
        no rows yet: its first count creates every slot, so later ones never need an INSERT."""
        slots = settings.DISPATCHER.STATISTICS_COUNTER_SLOTS
        # Not a security choice: any spread of the writers will do.
        slot = random.randrange(slots)  # noqa: S311
        increment = _slot_increment(counter)
        if increment.run(service_id=service_id, day=day, slot=slot, amount=amount):
            return
        # A conflict means another transaction created the day first: the update below is then ordinary.
        rows = [cls(service_id=service_id, day=day, slot=number) for number in range(slots)]
        cls.objects.bulk_create(rows, ignore_conflicts=True)
        increment.run(service_id=service_id, day=day, slot=slot, amount=amount)


@functools.cache
def _slot_increment(counter: str) -> PreparedUpdate:
    """`UPDATE … SET counter = counter + amount` of one (service, day, slot) row, compiled once."""

    def build(service_id: uuid.UUID, day: date, slot: int, amount: int) -> tuple[models.QuerySet, dict]:
        rows = DailyStatistics.objects.filter(service_id=service_id, day=day, slot=slot)
        return rows, {counter: F(counter) + amount}

    field = DailyStatistics._meta.get_field
    parameters = {"service_id": field("service").target_field, "day": field("day"), "slot": field("slot")}
    return PreparedUpdate(build, {**parameters, "amount": field(counter)})


class Provider(models.Model):
    """A delivery provider (Part A §7): each send uses the active provider of its type with the smallest
    priority number; a failed SMS attempt moves on to the next active one. Seeded by a migration;
    operators change priority and activity in the admin, each change a new version kept in the history."""

    identifier = models.CharField(primary_key=True, max_length=20, help_text="firetext, mmg, ses.")
    display_name = models.CharField(max_length=50)
    notification_type = models.CharField(max_length=5, choices=[(t, t) for t in NOTIFICATION_TYPES])
    priority = models.PositiveSmallIntegerField(help_text="Smaller numbers are tried first.")
    active = models.BooleanField(default=True)
    version = models.PositiveIntegerField(default=1, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_by = models.CharField(max_length=150, blank=True, editable=False)

    class Meta:
        ordering = ["notification_type", "priority", "identifier"]

    def __str__(self) -> str:
        return self.display_name

    @classmethod
    def active_identifiers(cls, notification_type: str) -> list[str]:
        """The active providers of a type, first choice first."""
        providers = cls.objects.filter(notification_type=notification_type, active=True)
        return list(providers.order_by("priority", "identifier").values_list("identifier", flat=True))

    def record_change(self, changed_by: str) -> None:
        """Save this provider's new priority and activity as its next version, with the history row."""
        with transaction.atomic():
            self.version = (Provider.objects.filter(pk=self.pk).values_list("version", flat=True).first() or 0) + 1
            self.updated_at, self.updated_by = timezone.now(), changed_by
            self.save()
            ProviderHistory.objects.create(
                provider=self,
                version=self.version,
                priority=self.priority,
                active=self.active,
                changed_by=changed_by,
                changed_at=self.updated_at,
            )


class ProviderHistory(models.Model):
    """Every version of a provider's settings: who changed what, when."""

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="history")
    version = models.PositiveIntegerField()
    priority = models.PositiveSmallIntegerField()
    active = models.BooleanField()
    changed_by = models.CharField(max_length=150, blank=True)
    changed_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "provider history"
        ordering = ["provider", "-version"]
        constraints = [models.UniqueConstraint(fields=["provider", "version"], name="uix_provider_version")]

    def __str__(self) -> str:
        return f"{self.provider_id} v{self.version}"
