"""The receipt mail a user gets once Nodo has sent the payment result (spec Part B §8.3), as pure data.

`build_receipt_mail(state, email)` turns a transaction with a requested user receipt and the
decrypted e-mail address into the notifications service's request: the `success` template when
Nodo's sendPaymentResult outcome is OK, `ko` when it is KO. Any other outcome, a missing piece of
the transaction, or a payment type code the reference does not know raises `ReceiptMailError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from transactions import events as ev
from transactions.reduction import TransactionState
from transactions.wire_formats import euro_text, italian_receipt_date

SUCCESS_TEMPLATE = "success"
KO_TEMPLATE = "ko"
SUCCESS_SUBJECT = "Il riepilogo del tuo pagamento"
KO_SUBJECT = "Il pagamento non è riuscito"
KO_LANGUAGE = "it-IT"
NOT_AVAILABLE = "-"
NOTICE_REFERENCE_TYPE = "codiceAvviso"

T = ev.PaymentTypeCode
# Which of the authorization's codes the success mail shows as rrn and authCode, by payment type code.
RRN_AND_AUTH_CODE = "rrn and authorization code"  # CP, APPL: rrn (else authorizationRequestId), code (else "-")
NEITHER = "neither"  # "-" and "-"
OPERATION_ID = "NPG operation id"  # rrn "-", authCode = NPG operationId
AUTH_CODE_ONLY = "authorization code only"  # rrn "-", authCode (else "-")
RECEIPT_CODES_BY_PAYMENT_TYPE: dict[ev.PaymentTypeCode, str] = {
    T.CP: RRN_AND_AUTH_CODE,
    T.APPL: RRN_AND_AUTH_CODE,
    T.PPAL: NEITHER,
    T.SATY: NEITHER,
    T.GOOG: NEITHER,
    T.MYBK: NEITHER,
    T.BPAY: OPERATION_ID,
    T.RBPB: AUTH_CODE_ONLY,
    T.RBPP: AUTH_CODE_ONLY,
    T.RBPR: AUTH_CODE_ONLY,
    T.RBPS: AUTH_CODE_ONLY,
    T.RICO: AUTH_CODE_ONLY,
    T.RPIC: AUTH_CODE_ONLY,
    T.KLRN: AUTH_CODE_ONLY,
    T.RFPB: AUTH_CODE_ONLY,
}


class ReceiptMailError(ValueError):
    """The mail cannot be built for this transaction (the notification flow retries it)."""


@dataclass(frozen=True)
class MailRequest:
    """The body of the notifications service's POST /emails."""

    to: str
    subject: str
    language: str
    template_id: str
    parameters: dict[str, Any]


def build_receipt_mail(state: TransactionState, email: str) -> MailRequest:
    """The success or ko mail for the receipt outcome of `state` (the latest user-receipt event)."""
    receipt = state.user_receipt_data
    if receipt is None or state.activation_data is None:
        raise ReceiptMailError(f"transaction {state.transaction_id} has no user receipt to send")
    if receipt.response_outcome is ev.UserReceiptOutcome.OK:
        return _success_mail(state, receipt, email)
    if receipt.response_outcome is ev.UserReceiptOutcome.KO:
        return _ko_mail(state, email)
    raise ReceiptMailError(
        f"unexpected user receipt outcome {receipt.response_outcome} for transaction {state.transaction_id}"
    )


def _ko_mail(state: TransactionState, email: str) -> MailRequest:
    activation = state.activated
    parameters = {
        "transaction": {
            "id": activation.transaction_id.lower(),
            "timestamp": italian_receipt_date(activation.created_at),
            "amount": euro_text(activation.data.notices_amount),
        }
    }
    return MailRequest(email, KO_SUBJECT, KO_LANGUAGE, KO_TEMPLATE, parameters)


def _success_mail(state: TransactionState, receipt: ev.TransactionUserReceiptData, email: str) -> MailRequest:
    request = state.authorization_request_data
    completed = state.authorization_completed_data
    if request is None or completed is None:
        raise ReceiptMailError(f"transaction {state.transaction_id} has no completed authorization")
    if receipt.paid_at is None:
        raise ReceiptMailError(f"the user receipt of transaction {state.transaction_id} has no paymentDate")
    rrn, authorization_code = receipt_codes(request, completed)
    activation = state.activation_data
    notices_amount = activation.notices_amount
    parameters = {
        "transaction": {
            "id": state.transaction_id.lower(),
            "timestamp": italian_receipt_date(receipt.paid_at),
            "amount": euro_text(notices_amount + request.fee),
            "psp": {"name": request.psp_business_name, "fee": {"amount": euro_text(request.fee)}},
            "rrn": rrn,
            "authCode": authorization_code,
            "paymentMethod": {
                "name": request.payment_method_description,
                "logo": request.transaction_gateway_authorization_requested_data.logo,
                "accountHolder": None,
                "extraFee": False,
            },
        },
        "user": {"data": None, "email": email},
        "cart": {
            "items": [_cart_item(notice, activation.client_id) for notice in activation.payment_notices],
            "amountPartial": euro_text(notices_amount),
        },
    }
    return MailRequest(email, SUCCESS_SUBJECT, receipt.language, SUCCESS_TEMPLATE, parameters)


def receipt_codes(
    request: ev.TransactionAuthorizationRequestData, completed: ev.TransactionAuthorizationCompletedData
) -> tuple[str, str]:
    """(rrn, authCode) of the success mail for the request's payment type code (spec §8.3)."""
    rule = RECEIPT_CODES_BY_PAYMENT_TYPE.get(request.payment_type_code)
    if rule is None:
        raise ReceiptMailError(f"unhandled payment type code {request.payment_type_code}")
    if rule == RRN_AND_AUTH_CODE:
        return completed.rrn or request.authorization_request_id, completed.authorization_code or NOT_AVAILABLE
    if rule == OPERATION_ID:
        gateway = completed.transaction_gateway_authorization_data
        if not isinstance(gateway, ev.NpgTransactionGatewayAuthorizationData):
            raise ReceiptMailError(f"payment type code {request.payment_type_code} expects NPG authorization data")
        return NOT_AVAILABLE, gateway.operation_id
    if rule == AUTH_CODE_ONLY:
        return NOT_AVAILABLE, completed.authorization_code or NOT_AVAILABLE
    return NOT_AVAILABLE, NOT_AVAILABLE


def _cart_item(notice: ev.PaymentNotice, client_id: ev.ClientId) -> dict[str, Any]:
    return {
        "refNumber": {"type": NOTICE_REFERENCE_TYPE, "value": notice_reference(notice, client_id)},
        "debtor": None,
        "payee": {"name": notice.company_name or "", "taxCode": notice.fiscal_code},
        "subject": notice.description,
        "amount": euro_text(notice.amount),
    }


def notice_reference(notice: ev.PaymentNotice, client_id: ev.ClientId) -> str:
    """The notice number, or for WISP_REDIRECT transactions the creditor reference id when there is one."""
    if client_id is ev.ClientId.WISP_REDIRECT and notice.creditor_reference_id:
        return notice.creditor_reference_id
    return notice.notice_number
