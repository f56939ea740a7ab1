"""The queues this service knows, by short key, and clients for them.

Queue names come from configuration; the dead-letter queue lives on its own storage account.
Apps add their own queues with `register_queue()`.
"""

import threading
from dataclasses import dataclass

import requests
from azure.core.exceptions import ResourceExistsError
from azure.storage.queue import QueueClient, QueueServiceClient
from django.conf import settings


@dataclass(frozen=True)
class QueueDefinition:
    key: str
    name_variable: str
    dead_letter_account: bool = False
    # The name its receiver reports in the status keys (the reference's bean names for its nine queues).
    receiver_name: str = ""

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


def default_receiver_name(key: str) -> str:
    return "storageQueue" + "".join(part.capitalize() for part in key.split("-")) + "MessageSource"


def register_queue(
    key: str, name_variable: str, dead_letter_account: bool = False, receiver_name: str = ""
) -> QueueDefinition:
    definition = QueueDefinition(key, name_variable, dead_letter_account, receiver_name or default_receiver_name(key))
    QUEUES[key] = definition
    return definition


for _key, _variable, _receiver in [
    ("close-payment", "TRANSACTIONS_CLOSE_PAYMENT_QUEUE_NAME", "storageQueueClosuresMessageSource"),
    ("close-payment-retry", "TRANSACTIONS_CLOSE_PAYMENT_RETRY_QUEUE_NAME", "storageQueueRetryClosuresMessageSource"),
    ("expiration", "TRANSACTIONS_EXPIRATION_QUEUE_NAME", "storageQueueExpirationsMessageSource"),
    ("refund", "TRANSACTIONS_REFUND_QUEUE_NAME", "storageQueueRefundMessageSource"),
    ("refund-retry", "TRANSACTIONS_REFUND_RETRY_QUEUE_NAME", "storageQueueRefundRetryMessageSource"),
    ("notifications", "TRANSACTIONS_NOTIFICATIONS_QUEUE_NAME", "storageQueueNotificationsMessageSource"),
    (
        "notifications-retry",
        "TRANSACTIONS_NOTIFICATIONS_RETRY_QUEUE_NAME",
        "storageQueueRetryNotificationsMessageSource",
    ),
    (
        "authorization-requested",
        "TRANSACTIONS_AUTHORIZATION_REQUESTED_QUEUE_NAME",
        "storageQueueAuthorizationRequestedMessageSource",
    ),
    (
        "authorization-outcome-waiting",
        "TRANSACTIONS_AUTHORIZATION_OUTCOME_WAITING_QUEUE_NAME",
        "storageQueueAuthorizationOutcomeWaitingMessageSource",
    ),
]:
    register_queue(_key, _variable, receiver_name=_receiver)
register_queue(
    "dead-letter",
    "TRANSACTIONS_DEAD_LETTER_QUEUE_NAME",
    dead_letter_account=True,
    receiver_name="storageQueueDeadLetterMessageSource",
)
register_queue("probe", "DIAGNOSTIC_PROBE_QUEUE_NAME", receiver_name="storageQueueProbeMessageSource")

DEAD_LETTER_QUEUE = "dead-letter"
# Azure Storage refuses a message whose UTF-8 text is longer than 64 KiB.
MAX_MESSAGE_BYTES = 64 * 1024
# The longest visibility timeout the queue service accepts (7 days).
MAX_VISIBILITY_SECONDS = 7 * 24 * 3600


def service_client(connection_string: str) -> QueueServiceClient:
    """The one way this app builds queue clients: no SDK retries, short timeouts, proxies read once.

    No SDK retries (its storage policy waits 15 s before the first): a failed call leaves the message
    on its queue, and the consumer loop backs off and tries again. Proxy variables are read once here:
    requests would otherwise scan the whole environment on every call, which measured as the largest
    cost of a message delete.
    """
    endpoint = QueueServiceClient.from_connection_string(connection_string).url
    return QueueServiceClient.from_connection_string(
        connection_string,
        connection_timeout=5,
        read_timeout=30,
        retry_total=0,
        use_env_settings=False,
        proxies=requests.utils.get_environ_proxies(endpoint) or None,
    )


def queue_client(key: str) -> QueueClient:
    """A new client for a registered queue (it keeps the service client's settings)."""
    definition = QUEUES[key]
    return service_client(definition.connection_string).get_queue_client(definition.name)


_thread_clients = threading.local()


def cached_queue_client(key: str) -> QueueClient:
    """This thread's client for a queue (one HTTP connection pool per thread, reused across messages)."""
    definition = QUEUES[key]
    cache_key = (definition.connection_string, definition.name)
    clients = _thread_clients.__dict__.setdefault("clients", {})
    if cache_key not in clients:
        clients[cache_key] = queue_client(key)
    return clients[cache_key]


def time_to_live(key: str) -> int:
    """Seconds a message sent to this queue lives: transient TTL, or the dead-letter TTL (-1: forever)."""
    config = settings.DISPATCHER
    if key == DEAD_LETTER_QUEUE:
        return config.DEAD_LETTER_QUEUE_TTL_SECONDS
    return config.TRANSIENT_QUEUES_TTL_SECONDS


def send_text(key: str, text: str, visibility_seconds: int = 0, client: QueueClient | None = None) -> None:
    """Send one message text to a queue with that queue's TTL."""
    client = client or cached_queue_client(key)
    client.send_message(text, visibility_timeout=visibility_seconds or None, time_to_live=time_to_live(key))


def create_all_queues() -> list[str]:
    """Create every registered queue that does not exist yet; return the names created."""
    created = []
    for definition in QUEUES.values():
        service = service_client(definition.connection_string)
        try:
            service.create_queue(definition.name)
            created.append(definition.name)
        except ResourceExistsError:
            pass
    return created
