"""What one message costs the database (issue: the consumer near the queue service's limit).

Counted on the connection the runtime uses, around `process_message` for a real queue message.
"""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from receivers.processing import Outcome, process_message
from receivers.queues import queue_client
from tests.transactions.handlers.builders import activated, codes, store_history
from tests.transactions.handlers.conftest import HANDLER_DB, send_event

pytestmark = HANDLER_DB


def received_once(queue_key: str):
    [message] = queue_client(queue_key).receive_messages(visibility_timeout=30)
    return message


def test_expiring_an_activated_transaction_takes_at_most_six_statements(stand_ins):
    events = store_history([activated()])
    send_event("expiration", events[0].to_json_dict())
    message = received_once("expiration")
    connection.ensure_connection()

    with CaptureQueriesContext(connection) as statements:
        outcome = process_message("expiration", message)

    assert outcome == Outcome.PROCESSED
    assert codes() == ["ACTIVATED", "EXPIRED"]
    sql = [query["sql"] for query in statements.captured_queries]
    print("\n".join(sql))
    assert len(sql) <= 6, "\n".join(sql)
