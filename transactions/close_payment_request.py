"""The closePaymentV2 request body Nodo receives (spec Part B §8.1), as a pure function of the state.

    outcome = closure_outcome(state)
    email, fiscal_code = ...decrypted when personal_data_needed(state, outcome) says so...
    body = close_payment_request(state, outcome, email=email, fiscal_code=fiscal_code)

Amounts inside the service are cents; the body carries cents in `transactionDetails`, euros (two
decimals, HALF_UP) at the top level and as text in `additionalPaymentInformations`, whose
`timestampOperation` is Paris local time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from transactions import events as ev
from transactions.reduction import TransactionState
from transactions.wire_formats import euro_amount, euro_amount_text, paris_local_timestamp

T = ev.PaymentTypeCode
NPG_TYPE_CODES = frozenset({T.CP, T.PPAL, T.BPAY, T.MYBK, T.APPL, T.GOOG, T.SATY})
TRANSACTION_STATUS_CONFIRMED = "Confermato"
TRANSACTION_STATUS_REFUSED = "Rifiutato"
TRANSACTION_STATUS_CANCELED = "Annullato"
REGISTERED_CLIENTS = frozenset({ev.ClientId.IO})


class ClosePaymentRequestError(ValueError):
    """The request cannot be built from this transaction (handled like a failure without answer)."""


@dataclass(frozen=True)
class PersonalDataNeeded:
    email: bool
    fiscal_code: bool


def closure_outcome(state: TransactionState) -> ev.ClosureOutcome:
    """KO for a user cancellation, else OK iff the authorization succeeded (spec §5.1 step 3)."""
    if state.is_cancellation:
        return ev.ClosureOutcome.KO
    gateway = _completed_gateway_data(state)
    return ev.ClosureOutcome.OK if gateway is not None and gateway.is_authorized else ev.ClosureOutcome.KO


def personal_data_needed(state: TransactionState, outcome: ev.ClosureOutcome) -> PersonalDataNeeded:
    """Which decrypted values `close_payment_request` needs: the e-mail for NPG payment information
    and the fiscal code of a registered user, both only when the outcome is OK."""
    ok = outcome is ev.ClosureOutcome.OK and not state.is_cancellation
    request = state.authorization_request_data
    npg = request is not None and request.payment_gateway is ev.PaymentGateway.NPG
    user_id = state.activation_data.user_id if state.activation_data else None
    return PersonalDataNeeded(email=ok and npg, fiscal_code=ok and bool(user_id))


def close_payment_request(
    state: TransactionState,
    outcome: ev.ClosureOutcome,
    *,
    email: str | None = None,
    fiscal_code: str | None = None,
) -> dict[str, Any]:
    """The closePaymentV2 body for the transaction in `state` with this outcome.

    Raises ClosePaymentRequestError for an IO transaction without userId, legacy PGS data, a
    payment type code the gateway does not serve, or a missing decrypted value.
    """
    activation = state.activation_data
    if activation is None:
        raise ClosePaymentRequestError("the transaction has no ACTIVATED event")
    authorized_flow = not state.is_cancellation and state.authorization_request_data is not None
    body: dict[str, Any] = {
        "paymentTokens": [notice.payment_token for notice in activation.payment_notices],
        "outcome": outcome.value,
    }
    if authorized_flow and outcome is ev.ClosureOutcome.OK:
        body.update(_payment_fields(state, email))
    body["transactionId"] = state.transaction_id
    body["transactionDetails"] = {
        "transaction": _transaction(state, outcome, authorized_flow),
        "info": _info(state, authorized_flow),
        "user": _user(activation, outcome, fiscal_code),
    }
    return body


# --- top level and additional payment information -------------------------------------------------


def _payment_fields(state: TransactionState, email: str | None) -> dict[str, Any]:
    request = state.authorization_request_data
    completed = _completed(state)
    return {
        "idPSP": request.psp_id,
        "paymentMethod": request.payment_type_code.value,
        "idBrokerPSP": request.broker_name,
        "idChannel": request.psp_channel_code,
        "idBundle": request.id_bundle,
        "totalAmount": euro_amount(request.total_amount),
        "fee": euro_amount(request.fee),
        "timestampOperation": completed.timestamp_operation,
        "additionalPaymentInformations": additional_payment_informations(state, email),
    }


def additional_payment_informations(state: TransactionState, email: str | None) -> dict[str, str | None]:
    """The per-payment-type `additionalPaymentInformations` of an authorized closure (spec §8.1)."""
    request = state.authorization_request_data
    completed = _completed(state)
    gateway = completed.transaction_gateway_authorization_data
    common = {
        "totalAmount": euro_amount_text(request.total_amount),
        "fee": euro_amount_text(request.fee),
        "timestampOperation": paris_local_timestamp(completed.timestamp_operation),
    }
    if request.payment_gateway is ev.PaymentGateway.REDIRECT:
        _expect(gateway, ev.RedirectTransactionGatewayAuthorizationData)
        return {
            "idTransaction": state.transaction_id,
            "idPSPTransaction": request.authorization_request_id,
            "totalAmount": common["totalAmount"],
            "authorizationCode": completed.authorization_code,
            "fee": common["fee"],
            "timestampOperation": common["timestampOperation"],
        }
    if request.payment_gateway is not ev.PaymentGateway.NPG or request.payment_type_code not in NPG_TYPE_CODES:
        raise ClosePaymentRequestError(
            f"no closePayment information for {request.payment_gateway} payment type {request.payment_type_code}"
        )
    _expect(gateway, ev.NpgTransactionGatewayAuthorizationData)
    if email is None:
        raise ClosePaymentRequestError("the decrypted e-mail address is needed")
    return {**_npg_information(state, request, completed, gateway, common), "email": email}


def _npg_information(
    state: TransactionState,
    request: ev.TransactionAuthorizationRequestData,
    completed: ev.TransactionAuthorizationCompletedData,
    gateway: ev.NpgTransactionGatewayAuthorizationData,
    common: dict[str, str],
) -> dict[str, str | None]:
    code = request.payment_type_code
    amounts = {"totalAmount": common["totalAmount"], "fee": common["fee"]}
    when = {"timestampOperation": common["timestampOperation"]}
    outcome = {"outcomePaymentGateway": "OK" if gateway.is_authorized else "KO"}
    if code is T.CP:
        return {
            **outcome,
            "authorizationCode": completed.authorization_code,
            "fee": common["fee"],
            **when,
            "rrn": completed.rrn,
            "totalAmount": common["totalAmount"],
        }
    if code is T.PPAL:
        return {
            "transactionId": gateway.operation_id,
            "pspTransactionId": gateway.payment_end_to_end_id,
            "fee": common["fee"],
            **when,
            "totalAmount": common["totalAmount"],
        }
    if code is T.BPAY:
        return {
            "transactionId": gateway.payment_end_to_end_id,
            **outcome,
            **amounts,
            **when,
            "authorizationCode": gateway.operation_id,
        }
    if code is T.MYBK:
        return {
            "transactionId": state.transaction_id,
            "myBankTransactionId": gateway.payment_end_to_end_id,
            **amounts,
            "validationServiceId": gateway.validation_service_id,
            **when,
        }
    if code in (T.APPL, T.GOOG):
        return {
            "authorizationRequestId": request.authorization_request_id,
            "rrn": completed.rrn,
            **amounts,
            **when,
            "authorizationCode": completed.authorization_code,
        }
    return {"satispayTransactionId": gateway.payment_end_to_end_id, **amounts, **when}  # SATY


# --- transactionDetails ---------------------------------------------------------------------------


def _transaction(state: TransactionState, outcome: ev.ClosureOutcome, authorized_flow: bool) -> dict[str, Any]:
    activation = state.activation_data
    creation_date = state.activated.created_at.isoformat()
    if not authorized_flow:
        amount = activation.notices_amount
        return {
            "transactionId": state.transaction_id,
            "transactionStatus": TRANSACTION_STATUS_CANCELED,
            "creationDate": creation_date,
            "amount": amount,
            "grandTotal": amount,
        }
    request = state.authorization_request_data
    completed = state.authorization_completed_data
    gateway = _completed_gateway_data(state)
    if gateway is None:
        status = TRANSACTION_STATUS_CANCELED
    else:
        status = TRANSACTION_STATUS_CONFIRMED if gateway.is_authorized else TRANSACTION_STATUS_REFUSED
    transaction: dict[str, Any] = {
        "transactionId": state.transaction_id,
        "transactionStatus": status,
        "creationDate": creation_date,
        "paymentGateway": request.payment_gateway.value,
        "amount": request.amount,
        "fee": request.fee,
        "grandTotal": request.total_amount,
        "rrn": completed.rrn if completed else None,
    }
    if outcome is ev.ClosureOutcome.KO:
        transaction["errorCode"] = getattr(gateway, "error_code", None)
    else:
        transaction["authorizationCode"] = completed.authorization_code if completed else None
    transaction["timestampOperation"] = completed.timestamp_operation if completed else None
    transaction["psp"] = {
        "idPsp": request.psp_id,
        "idChannel": request.psp_channel_code,
        "businessName": request.psp_business_name,
        "brokerName": request.broker_name,
        "pspOnUs": request.psp_on_us,
    }
    return transaction


def _info(state: TransactionState, authorized_flow: bool) -> dict[str, Any]:
    client = state.activation_data.client_id.effective.value
    if not authorized_flow:
        return {"type": T.CP.value, "clientId": client}
    request = state.authorization_request_data
    requested = request.transaction_gateway_authorization_requested_data
    info: dict[str, Any] = {
        "type": request.payment_type_code.value,
        "clientId": client,
        "brandLogo": getattr(requested, "logo", None),
        "brand": _brand(request, requested),
        "paymentMethodName": request.payment_method_name,
    }
    wallet = getattr(requested, "wallet_info", None)
    details = wallet.wallet_details if wallet else None
    if isinstance(details, ev.CardWalletDetails):
        info.update(bin=details.bin, lastFourDigits=details.last_four_digits)
    elif isinstance(details, ev.PaypalWalletDetails):
        info["maskedEmail"] = details.masked_email
    return info


def _brand(
    request: ev.TransactionAuthorizationRequestData, requested: ev.TransactionGatewayAuthorizationRequestedData
) -> str | None:
    if isinstance(requested, ev.NpgTransactionGatewayAuthorizationRequestedData) and request.payment_type_code is T.CP:
        return requested.brand
    return request.payment_type_code.value


def _user(activation: ev.TransactionActivatedData, outcome: ev.ClosureOutcome, fiscal_code: str | None) -> dict:
    if activation.user_id is None:
        if activation.client_id in REGISTERED_CLIENTS:
            raise ClosePaymentRequestError(f"a {activation.client_id} transaction needs a userId")
        return {"type": "GUEST"}
    user: dict[str, Any] = {"type": "REGISTERED"}
    if outcome is ev.ClosureOutcome.OK:
        if fiscal_code is None:
            raise ClosePaymentRequestError("the decrypted fiscal code is needed")
        user["fiscalCode"] = fiscal_code
    return user


# --- shared ---------------------------------------------------------------------------------------


def _completed(state: TransactionState) -> ev.TransactionAuthorizationCompletedData:
    completed = state.authorization_completed_data
    if completed is None:
        raise ClosePaymentRequestError("an authorized closure needs the completed authorization")
    return completed


def _completed_gateway_data(state: TransactionState) -> ev.TransactionGatewayAuthorizationData | None:
    completed = state.authorization_completed_data
    if completed is None:
        return None
    gateway = completed.transaction_gateway_authorization_data
    if isinstance(gateway, ev.PgsTransactionGatewayAuthorizationData):
        raise ClosePaymentRequestError("legacy PGS authorization data is not supported")
    return gateway


def _expect(gateway: ev.TransactionGatewayAuthorizationData, kind: type) -> None:
    if not isinstance(gateway, kind):
        raise ClosePaymentRequestError(f"expected {kind.__name__}, found {type(gateway).__name__}")
