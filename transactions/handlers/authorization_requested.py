"""Authorization requested (spec Part B §5.7), on queue authorization-requested.

With `threshold` = the event's creationDate + AUTHORIZATION_OUTCOME_FIRST_ATTEMPT_DELAY_SECONDS and
`wait` = threshold - now (a first attempt while wait >= 0):
1. a transaction that never requested an authorization is a no-op;
2. on the first attempt, remember the payment method the user chose (user stats), unless the
   transaction is already CLOSURE_REQUESTED; failures are logged and ignored;
3. go on only with the statuses of §5.8 step 1;
4. before the threshold, put this same message back, visible after wait + 10 s;
5. after it, recover the authorization outcome as §5.8 does, as attempt 0.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings

from receivers.handlers import QueueMessage, queue_handler
from receivers.outbox import Outbox
from transactions import events as ev
from transactions.clients import ClientError
from transactions.clients.user_stats import save_last_payment_method
from transactions.handlers.authorization_outcome_waiting import (
    is_waiting_for_outcome_recovery,
    recover_authorization_outcome,
)
from transactions.handling import store_incoming
from transactions.reduction import TransactionState

logger = logging.getLogger(__name__)

S = ev.TransactionStatus
QUEUE = "authorization-requested"
POSTPONEMENT_MARGIN_SECONDS = 10


@queue_handler(QUEUE, accepts=[ev.TransactionAuthorizationRequestedEvent.class_name()], parse=ev.parse_event)
def authorization_requested(message: QueueMessage, outbox: Outbox) -> None:
    """Save the last used method, then recover the authorization outcome once NPG may know it."""
    state = store_incoming(message)
    now = datetime.now(ev.EVENT_ZONE)
    threshold = message.event.created_at + timedelta(
        seconds=settings.DISPATCHER.AUTHORIZATION_OUTCOME_FIRST_ATTEMPT_DELAY_SECONDS
    )
    wait_seconds = (threshold - now).total_seconds()
    if not state.was_authorization_requested:
        logger.info("transaction %s: no authorization requested", message.transaction_id)
        return
    if wait_seconds >= 0 and state.status is not S.CLOSURE_REQUESTED:
        save_last_usage(state)
    if not is_waiting_for_outcome_recovery(state):
        logger.info("transaction %s in status %s: no outcome to recover", state.transaction_id, state.status)
        return
    if wait_seconds > 0:
        visibility = math.ceil(wait_seconds + POSTPONEMENT_MARGIN_SECONDS)
        with outbox.decision():
            outbox.send(QUEUE, message.raw_event, message.tracing_info, visibility)
        return
    recover_authorization_outcome(state, 0, outbox, message.tracing_info)


def save_last_usage(state: TransactionState) -> None:
    """PUT the user's last used payment method when enabled and the user is known; errors are ignored."""
    user_id = state.activation_data.user_id
    if not settings.DISPATCHER.USER_STATS_SERVICE_ENABLE_SAVE_LAST_USAGE or not user_id:
        return
    try:
        save_last_payment_method(user_id, last_usage_details(state))
    except ClientError as error:
        logger.warning("transaction %s: last payment method not saved: %s", state.transaction_id, error)


def last_usage_details(state: TransactionState) -> dict[str, Any]:
    """`{type: wallet, walletId, date}` for a wallet payment, else `{type: guest, paymentMethodId, date}` (§8.6)."""
    requested = state.authorization_requested
    data = requested.data
    date = requested.created_at.isoformat()
    wallet = getattr(data.transaction_gateway_authorization_requested_data, "wallet_info", None)
    if wallet is not None:
        return {"type": "wallet", "walletId": wallet.wallet_id, "date": date}
    return {"type": "guest", "paymentMethodId": data.payment_instrument_id, "date": date}
