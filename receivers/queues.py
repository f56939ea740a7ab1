"""The queues this service knows, by short key, and clients for them.

Queue names come from configuration; the dead-letter queue lives on its own storage account.
Apps add their own queues with `register_queue()`.
"""

from dataclasses import dataclass

from azure.core.exceptions import ResourceExistsError
from azure.storage.queue import QueueClient, QueueServiceClient
from django.conf import settings


@dataclass(frozen=True)
class QueueDefinition:
    key: str
    name_variable: str
    dead_letter_account: bool = False

    @property
    def name(self) -> str:
        return getattr(settings.DISPATCHER, self.name_variable)

    @property
    def connection_string(self) -> str:
        config = settings.DISPATCHER
        if self.dead_letter_account:
            return config.QUEUE_DEADLETTER_CONNECTION_STRING
        return config.QUEUE_TRANSIENT_CONNECTION_STRING


QUEUES: dict[str, QueueDefinition] = {}


def register_queue(key: str, name_variable: str, dead_letter_account: bool = False) -> QueueDefinition:
    definition = QueueDefinition(key, name_variable, dead_letter_account)
    QUEUES[key] = definition
    return definition


for _key, _variable in [
    ("close-payment", "TRANSACTIONS_CLOSE_PAYMENT_QUEUE_NAME"),
    ("close-payment-retry", "TRANSACTIONS_CLOSE_PAYMENT_RETRY_QUEUE_NAME"),
    ("expiration", "TRANSACTIONS_EXPIRATION_QUEUE_NAME"),
    ("refund", "TRANSACTIONS_REFUND_QUEUE_NAME"),
    ("refund-retry", "TRANSACTIONS_REFUND_RETRY_QUEUE_NAME"),
    ("notifications", "TRANSACTIONS_NOTIFICATIONS_QUEUE_NAME"),
    ("notifications-retry", "TRANSACTIONS_NOTIFICATIONS_RETRY_QUEUE_NAME"),
    ("authorization-requested", "TRANSACTIONS_AUTHORIZATION_REQUESTED_QUEUE_NAME"),
    ("authorization-outcome-waiting", "TRANSACTIONS_AUTHORIZATION_OUTCOME_WAITING_QUEUE_NAME"),
]:
    register_queue(_key, _variable)
register_queue("dead-letter", "TRANSACTIONS_DEAD_LETTER_QUEUE_NAME", dead_letter_account=True)


def queue_client(key: str) -> QueueClient:
    definition = QUEUES[key]
    return QueueClient.from_connection_string(definition.connection_string, definition.name)


def create_all_queues() -> list[str]:
    """Create every registered queue that does not exist yet; return the names created."""
    created = []
    for definition in QUEUES.values():
        service = QueueServiceClient.from_connection_string(definition.connection_string)
        try:
            service.create_queue(definition.name)
            created.append(definition.name)
        except ResourceExistsError:
            pass
    return created
