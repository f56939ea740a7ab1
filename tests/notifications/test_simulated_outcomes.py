"""Notify's test-key outcomes by recipient (Part A §7), and the receipt the simulation applies."""

import uuid

import pytest

from notifications.providers.simulated import receipt, simulated_status


@pytest.mark.parametrize(
    ("notification_type", "recipient", "status"),
    [
        ("sms", "07700900003", "temporary-failure"),
        ("sms", "+44 7700 900003", "temporary-failure"),
        ("sms", "447700900003", "temporary-failure"),
        ("sms", "07700900002", "permanent-failure"),
        ("sms", "+447700900002", "permanent-failure"),
        ("sms", "07700900000", "delivered"),
        ("sms", "07700900111", "delivered"),
        ("sms", "+39 333 1234567", "delivered"),
        ("email", "temp-fail@simulator.notify", "temporary-failure"),
        ("email", "Perm-Fail@Simulator.Notify", "permanent-failure"),
        ("email", "simulate-delivered@notifications.service.gov.uk", "delivered"),
        ("email", "anyone@example.com", "delivered"),
    ],
)
def test_outcome_by_recipient(notification_type, recipient, status):
    assert simulated_status(notification_type, recipient) == status


def test_the_receipt_counts_like_a_provider_receipt():
    notification_id = uuid.uuid4()
    delivered = receipt(notification_id, "delivered")
    assert (delivered.provider, delivered.reference, delivered.outcome.status) == (
        "simulated",
        str(notification_id),
        "delivered",
    )
    assert delivered.outcome.statistics_status == "delivered"
    assert receipt(notification_id, "permanent-failure").outcome.statistics_status == "failed"
    with pytest.raises(ValueError, match="no simulated outcome"):
        receipt(notification_id, "pending")
