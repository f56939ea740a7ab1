"""Sending an e-mail through Amazon SES with boto3 (spec notifications.md Part A §7, Part B §5).

`send_email` calls SES `SendEmail`:
- Source `"<service name>" <<local part of the service's email_from>@<NOTIFY_EMAIL_DOMAIN>>`, the name
  made safe for a mail header (non-ASCII characters, quotes, backslashes and line breaks removed);
- Destination: the recipient, with empty Cc and Bcc lists;
- Message: the subject and the Text body (UTF-8), plus the Html body when there is one;
- ReplyToAddresses: `[]`, or the service's reply-to address, which the caller reads at send time.
The `MessageId` SES returns becomes the notification's reference, which SES receipts name. Every
botocore error is a ProviderError naming SES's error code (never its message: it can quote addresses).
"""

from __future__ import annotations

import threading

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings

from notifications.providers.clients import ProviderError, measured, timeouts

PROVIDER = "ses"
_HEADER_UNSAFE = str.maketrans("", "", '"\\\r\n')

_clients: dict[tuple, object] = {}
_clients_lock = threading.Lock()


def configured() -> bool:
    return bool(settings.DISPATCHER.SES_REGION)


def source_address(service_name: str, email_from: str, domain: str) -> str:
    """`"<name>" <<local part>@<domain>>` with a name every mail header can carry."""
    name = service_name.encode("ascii", "ignore").decode("ascii").translate(_HEADER_UNSAFE).strip()
    local_part = email_from.split("@", 1)[0]
    return f'"{name}" <{local_part}@{domain}>'


def ses() -> object:
    """The boto3 SES client for the current configuration (boto3 clients are thread-safe)."""
    config = settings.DISPATCHER
    connect, read = timeouts("SES")
    key = (config.SES_REGION, config.SES_ENDPOINT_URL, config.SES_ACCESS_KEY_ID, config.SES_SECRET_ACCESS_KEY)
    key += (connect, read, config.CONSUMER_WORKER_THREADS)
    with _clients_lock:
        if key not in _clients:
            _clients[key] = boto3.session.Session().client(
                "ses",
                region_name=config.SES_REGION,
                endpoint_url=config.SES_ENDPOINT_URL or None,
                aws_access_key_id=config.SES_ACCESS_KEY_ID or None,
                aws_secret_access_key=config.SES_SECRET_ACCESS_KEY or None,
                config=Config(
                    connect_timeout=connect,
                    read_timeout=read,
                    # One attempt: retrying is the send queue's job.
                    retries={"total_max_attempts": 1, "mode": "standard"},
                    max_pool_connections=max(10, config.CONSUMER_WORKER_THREADS),
                ),
            )
        return _clients[key]


def send_email(source: str, to: str, subject: str, body: str, html_body: str, reply_to: str) -> str:
    """Hand the e-mail to SES; its MessageId."""
    return measured(PROVIDER, lambda: _send(source, to, subject, body, html_body, reply_to))


def _send(source: str, to: str, subject: str, body: str, html_body: str, reply_to: str) -> str:
    message_body = {"Text": {"Data": body, "Charset": "UTF-8"}}
    if html_body:
        message_body["Html"] = {"Data": html_body, "Charset": "UTF-8"}
    try:
        answer = ses().send_email(
            Source=source,
            Destination={"ToAddresses": [to], "CcAddresses": [], "BccAddresses": []},
            Message={"Subject": {"Data": subject, "Charset": "UTF-8"}, "Body": message_body},
            ReplyToAddresses=[reply_to] if reply_to else [],
        )
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "unknown")
        raise ProviderError(PROVIDER, f"SES error {code}") from None
    except BotoCoreError as error:
        raise ProviderError(PROVIDER, type(error).__name__) from None
    return answer["MessageId"]
