"""The refund queue, and what a refund attempt can end with besides success (spec Part B §5.9.2)."""

from __future__ import annotations

from transactions import events as ev

REFUND_QUEUE = "refund"


class RefundNotAllowed(Exception):
    """The gateway refuses the refund for good (4xx, redirect KO, order already refunded)."""

    def __init__(self, message: str, redirect_ko: bool = False):
        self.redirect_ko = redirect_ko
        super().__init__(message)


class RefundFailed(Exception):
    """The refund may work later; retry with `authorization` (None: resolve it again from NPG)."""

    def __init__(self, message: str, authorization: ev.TransactionGatewayAuthorizationData | None):
        self.authorization = authorization
        super().__init__(message)
