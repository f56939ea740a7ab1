"""Models of the transactions app: the event store and the transaction view (spec Part A §1).

`TransactionEvent` is the event store: one row per event, numbered 1, 2, 3… per transaction; the
unique (transaction_id, sequence) pair makes appends optimistic (Part A §2). `Transaction` is the
view (the reference's `transactions-view` document), kept up to date by `transactions.store`.
Both are portable: explicit string primary keys, JSONField, no raw SQL.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from django.db import models
from django.utils import timezone

from transactions import events as ev

STATUS_CHOICES = [(status.value, status.value) for status in ev.TransactionStatus]
EVENT_CODE_CHOICES = [(code.value, code.value) for code in ev.EventCode]


class TransactionEvent(models.Model):
    """One stored event. `creation_date` is the text as received; `created_at` its parsed instant."""

    event_id = models.CharField("event id", max_length=64, primary_key=True)
    transaction_id = models.CharField(max_length=32, db_index=True)
    sequence = models.PositiveIntegerField(help_text="1 for the first event of the transaction, then 2, 3…")
    event_code = models.CharField(max_length=64, choices=EVENT_CODE_CHOICES)
    creation_date = models.CharField(max_length=100)
    created_at = models.DateTimeField()
    data = models.JSONField(null=True, blank=True)
    stored_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["transaction_id", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["transaction_id", "sequence"], name="unique_event_sequence"),
        ]

    def __str__(self) -> str:
        return f"{self.transaction_id} #{self.sequence} {self.event_code}"

    @classmethod
    def from_event(cls, event: ev.TransactionEvent, sequence: int) -> TransactionEvent:
        document = event.to_json_dict()
        return cls(
            event_id=event.id,
            transaction_id=event.transaction_id,
            sequence=sequence,
            event_code=event.event_code.value,
            creation_date=event.creation_date,
            created_at=event.created_at,
            data=document["data"],
        )

    def to_json_dict(self) -> dict[str, Any]:
        """The event object as the reference writes it (property order restored by re-encoding)."""
        return self.to_event().to_json_dict()

    def to_event(self) -> ev.TransactionEvent:
        return ev.parse_event(
            {
                "_class": ev.EVENT_CLASSES_BY_CODE[ev.EventCode(self.event_code)].class_name(),
                "id": self.event_id,
                "transactionId": self.transaction_id,
                "creationDate": self.creation_date,
                "data": self.data,
                "eventCode": self.event_code,
            }
        )

    def pretty_data(self) -> str:
        return json.dumps(self.data, indent=2, ensure_ascii=False, sort_keys=False)


class TransactionQuerySet(models.QuerySet):
    def with_status_since(self) -> TransactionQuerySet:
        """Annotate `status_since`: when the latest event (the one that set the current status) was created."""
        latest = TransactionEvent.objects.filter(transaction_id=models.OuterRef("pk")).order_by("-sequence")
        return self.annotate(status_since=models.Subquery(latest.values("created_at")[:1]))

    def stuck(self, longer_than: timedelta) -> TransactionQuerySet:
        """Transactions in a transient status (spec §2) whose latest event is older than `longer_than`."""
        transient = [status.value for status in ev.TRANSIENT_STATUSES]
        return (
            self.filter(status__in=transient).with_status_since().filter(status_since__lt=timezone.now() - longer_than)
        )


class Transaction(models.Model):
    """The transaction view (spec §3.4), one row per transaction, created from its ACTIVATED event.

    The reference's dispatcher only changes status, last_processed_event_at, closure_error_data and
    send_payment_result_outcome; here nothing else writes the view, so the authorization fields are
    also filled from the AUTHORIZATION_REQUESTED and AUTHORIZATION_COMPLETED events.
    """

    transaction_id = models.CharField(max_length=32, primary_key=True)
    status = models.CharField(max_length=32, choices=STATUS_CHOICES, db_index=True)
    client_id = models.CharField(max_length=20, db_index=True)
    email_token = models.CharField(max_length=255, blank=True, help_text="PDV token of the e-mail address")
    payment_notices = models.JSONField(default=list)
    payment_tokens = models.TextField(blank=True, help_text="Payment tokens of the notices, one per line")
    rpt_ids = models.TextField(blank=True, help_text="rptIds of the notices, one per line")
    id_cart = models.CharField(max_length=255, blank=True, default="")
    user_id = models.CharField(max_length=255, blank=True, default="")
    fee_total = models.BigIntegerField(null=True, blank=True, help_text="euro cents")
    creation_date = models.CharField(max_length=100, help_text="creationDate of the ACTIVATED event, as received")
    created_at = models.DateTimeField(db_index=True)
    payment_gateway = models.CharField(max_length=16, blank=True, default="", db_index=True)
    payment_type_code = models.CharField(max_length=8, blank=True, default="")
    psp_id = models.CharField(max_length=64, blank=True, default="")
    rrn = models.CharField(max_length=64, blank=True, default="")
    authorization_code = models.CharField(max_length=64, blank=True, default="")
    authorization_error_code = models.CharField(max_length=64, blank=True, default="")
    gateway_authorization_status = models.CharField(max_length=32, blank=True, default="")
    closure_error_data = models.JSONField(null=True, blank=True)
    send_payment_result_outcome = models.CharField(max_length=16, blank=True, default="")
    last_processed_event_at = models.BigIntegerField(null=True, blank=True, help_text="epoch milliseconds")

    objects = TransactionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    # Optional text fields hold "" for "none" (Django convention); the JSON form turns them back into null.

    def __str__(self) -> str:
        return f"{self.transaction_id} {self.status}"

    def events_in_order(self) -> models.QuerySet[TransactionEvent]:
        return TransactionEvent.objects.filter(transaction_id=self.transaction_id).order_by("sequence")

    @property
    def amount_total(self) -> int:
        """Sum of the payment notices plus the fee, euro cents."""
        return sum(notice.get("amount", 0) for notice in self.payment_notices) + (self.fee_total or 0)

    def as_json_dict(self) -> dict[str, Any]:
        """The view document with the reference's field names (§3.4)."""
        return {
            "transactionId": self.transaction_id,
            "clientId": self.client_id,
            "email": {"data": self.email_token},
            "status": self.status,
            "feeTotal": self.fee_total,
            "creationDate": self.creation_date,
            "paymentNotices": self.payment_notices,
            "idCart": self.id_cart or None,
            "rrn": self.rrn or None,
            "paymentGateway": self.payment_gateway or None,
            "sendPaymentResultOutcome": self.send_payment_result_outcome or None,
            "authorizationCode": self.authorization_code or None,
            "authorizationErrorCode": self.authorization_error_code or None,
            "gatewayAuthorizationStatus": self.gateway_authorization_status or None,
            "userId": self.user_id or None,
            "closureErrorData": self.closure_error_data,
            "paymentTypeCode": self.payment_type_code or None,
            "pspId": self.psp_id or None,
            "lastProcessedEventAt": self.last_processed_event_at,
        }
