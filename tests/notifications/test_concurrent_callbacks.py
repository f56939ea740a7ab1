"""Many threads post receipts for the same notifications at once (duplicates and conflicting statuses); after
that every statistics counter equals what rebuild_statistics computes from the rows. PostgreSQL only."""

import random
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from notifications import statistics
from notifications.models import FAILURE_STATUSES, DailyStatistics, Notification
from tests.notifications.conftest import ses_body

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

SMS_RECEIPTS = [
    ("firetext", "0"),
    ("firetext", "1"),
    ("firetext", "2"),
    ("firetext", "0"),
    ("mmg", "3"),
    ("mmg", "5"),
    ("mmg", "4"),
    ("mmg", "3"),
]
SES_EVENTS = [
    {"notification_type": "Delivery"},
    {"notification_type": "Delivery"},
    {"notification_type": "Bounce", "bounce": {"bounceType": "Permanent"}},
    {"notification_type": "Complaint"},
]


def post_receipt(session: requests.Session, base_url: str, kind: str, target: str, code, sns) -> int:
    if kind == "firetext":
        response = session.post(f"{base_url}/notifications/sms/firetext", data={"status": code, "reference": target})
    elif kind == "mmg":
        response = session.post(f"{base_url}/notifications/sms/mmg", json={"status": code, "CID": target})
    else:
        body = sns.sign(
            ses_body(
                code["notification_type"],
                message_id=target,
                **{k: v for k, v in code.items() if k != "notification_type"},
            )
        )
        response = session.post(
            f"{base_url}/notifications/email/ses", data=body, headers={"Content-Type": "text/plain"}
        )
    return response.status_code


def test_racing_receipts_count_each_notification_exactly_once(on_postgresql, live_server, make_notification, sns):
    seed = random.randrange(2**32)
    print(f"receipt order seed: {seed}")  # shown when the test fails, to replay the same order
    shuffler = random.Random(seed)
    sms = [make_notification(status=shuffler.choice(["created", "sending"])) for _ in range(15)]
    emails = [make_notification(status="sending", notification_type="email", reference=f"ses-{i}") for i in range(10)]
    work = [
        ("firetext" if k == "firetext" else "mmg", str(n.id), c) for n in sms for k, c in SMS_RECEIPTS for _ in (0, 1)
    ]
    work += [("ses", n.reference, event) for n in emails for event in SES_EVENTS for _ in (0, 1)]
    shuffler.shuffle(work)

    sessions = [requests.Session() for _ in range(12)]

    def send(index_and_item):
        index, (kind, target, code) = index_and_item
        return post_receipt(sessions[index % len(sessions)], live_server.url, kind, target, code, sns)

    with ThreadPoolExecutor(max_workers=12) as pool:
        codes = list(pool.map(send, enumerate(work)))

    assert set(codes) == {200}
    assert statistics.differences() == []
    statuses = list(Notification.objects.values_list("status", flat=True))
    finished = sum(1 for s in statuses if s == "delivered" or s in FAILURE_STATUSES)
    assert finished == len(sms) + len(emails)
    rows = DailyStatistics.objects.all()
    assert sum(r.sms_delivered + r.sms_failed for r in rows) == len(sms)
    assert sum(r.emails_delivered + r.emails_failed for r in rows) == len(emails)
    assert set(statuses) <= {"delivered", "permanent-failure", "temporary-failure"}
