"""The closePaymentV2 body (spec §8.1) for every payment type, cancellations, KO outcomes and users."""

import dataclasses
from decimal import Decimal

import pytest

from tests.transactions.factories import TX, C, make_event, with_changes
from tests.transactions.handlers.builders import (
    OPERATION_ID,
    ORDER_ID,
    activated,
    authorization_completed,
    authorization_requested,
    closure_error,
    closure_requested,
    payment,
    user_canceled,
)
from transactions import events as ev
from transactions.close_payment_request import (
    ClosePaymentRequestError,
    PersonalDataNeeded,
    close_payment_request,
    closure_outcome,
    personal_data_needed,
)
from transactions.reduction import reduce_events

EMAIL = "mario.rossi@example.org"
FISCAL_CODE = "RSSMRA80A01H501U"
ACTIVATION_DATE = "2023-09-25T14:44:31.177776+02:00[Europe/Rome]"
TOKEN = "0d4a1f7e2b6c4b5a9e3d8c7b6a5f4e3d"
PARIS_TIME = "2023-05-01T23:59:59"  # the authorization's 2023-05-01T21:59:59.500Z
E2E = "e2e-0123"
OK = ev.ClosureOutcome.OK
KO = ev.ClosureOutcome.KO


def state_of(*events, client="CHECKOUT", user_id=None, notices=1):
    activation = dataclasses.replace(
        activated(client=client, user_id=user_id, notices=notices), creation_date=ACTIVATION_DATE
    )
    return reduce_events([activation, *events])


def closure_state(type_code="CP", authorized=True, **activation):
    return state_of(*payment(type_code, authorized=authorized), closure_requested(), **activation)


def body_for(type_code="CP", authorized=True, **activation):
    state = closure_state(type_code, authorized, **activation)
    outcome = closure_outcome(state)
    return close_payment_request(state, outcome, email=EMAIL, fiscal_code=FISCAL_CODE)


def test_an_authorized_card_payment_gets_the_full_body():
    assert body_for("CP") == {
        "paymentTokens": [TOKEN],
        "outcome": "OK",
        "idPSP": "BCITITMM",
        "paymentMethod": "CP",
        "idBrokerPSP": "00799960158",
        "idChannel": "00799960158_01",
        "idBundle": "bundle-1",
        "totalAmount": Decimal("121.50"),
        "fee": Decimal("1.50"),
        "timestampOperation": "2023-05-01T21:59:59.500Z",
        "additionalPaymentInformations": {
            "outcomePaymentGateway": "OK",
            "authorizationCode": "123456",
            "fee": "1.50",
            "timestampOperation": PARIS_TIME,
            "rrn": "231234567890",
            "totalAmount": "121.50",
            "email": EMAIL,
        },
        "transactionId": TX,
        "transactionDetails": {
            "transaction": {
                "transactionId": TX,
                "transactionStatus": "Confermato",
                "creationDate": "2023-09-25T14:44:31.177776+02:00",
                "paymentGateway": "NPG",
                "amount": 12000,
                "fee": 150,
                "grandTotal": 12150,
                "rrn": "231234567890",
                "authorizationCode": "123456",
                "timestampOperation": "2023-05-01T21:59:59.500Z",
                "psp": {
                    "idPsp": "BCITITMM",
                    "idChannel": "00799960158_01",
                    "businessName": "Intesa Sanpaolo",
                    "brokerName": "00799960158",
                    "pspOnUs": False,
                },
            },
            "info": {
                "type": "CP",
                "clientId": "CHECKOUT",
                "brandLogo": "https://assets.cdn.platform.pagopa.it/creditcard/visa.png",
                "brand": "VISA",
                "paymentMethodName": "CARDS",
                "bin": "401200",
                "lastFourDigits": "0026",
            },
            "user": {"type": "GUEST"},
        },
    }


AMOUNTS = {"totalAmount": "121.50", "fee": "1.50", "timestampOperation": PARIS_TIME}


@pytest.mark.parametrize(
    ("type_code", "information"),
    [
        ("PPAL", {"transactionId": OPERATION_ID, "pspTransactionId": E2E, **AMOUNTS, "email": EMAIL}),
        (
            "BPAY",
            {
                "transactionId": E2E,
                "outcomePaymentGateway": "OK",
                **AMOUNTS,
                "authorizationCode": OPERATION_ID,
                "email": EMAIL,
            },
        ),
        (
            "MYBK",
            {"transactionId": TX, "myBankTransactionId": E2E, **AMOUNTS, "validationServiceId": "3DS", "email": EMAIL},
        ),
        (
            "APPL",
            {
                "authorizationRequestId": ORDER_ID,
                "rrn": "231234567890",
                **AMOUNTS,
                "authorizationCode": "123456",
                "email": EMAIL,
            },
        ),
        (
            "GOOG",
            {
                "authorizationRequestId": ORDER_ID,
                "rrn": "231234567890",
                **AMOUNTS,
                "authorizationCode": "123456",
                "email": EMAIL,
            },
        ),
        ("SATY", {"satispayTransactionId": E2E, **AMOUNTS, "email": EMAIL}),
        (
            "RBPB",
            {"idTransaction": TX, "idPSPTransaction": ORDER_ID, **AMOUNTS, "authorizationCode": "123456"},
        ),
    ],
)
def test_each_payment_type_has_its_additional_payment_informations(type_code, information):
    body = body_for(type_code)
    assert body["additionalPaymentInformations"] == information
    assert body["paymentMethod"] == type_code
    assert body["outcome"] == "OK"


@pytest.mark.parametrize(
    ("type_code", "expected_info"),
    [
        ("PPAL", {"brand": "PPAL", "paymentMethodName": "PAYPAL", "maskedEmail": "j***@example.org"}),
        ("SATY", {"brand": "SATY", "paymentMethodName": "SATISPAY"}),
        (
            "RBPB",
            {"brand": "RBPB", "paymentMethodName": "REDIRECT", "brandLogo": "https://assets.example.org/redirect.png"},
        ),
    ],
)
def test_info_names_the_brand_and_the_wallet_of_each_type(type_code, expected_info):
    info = body_for(type_code)["transactionDetails"]["info"]
    for key, value in expected_info.items():
        assert info[key] == value
    assert ("bin" in info) is False
    assert body_for(type_code)["transactionDetails"]["transaction"]["paymentGateway"] == (
        "REDIRECT" if type_code == "RBPB" else "NPG"
    )


def test_a_redirect_payment_needs_no_email():
    state = closure_state("RBPB")
    assert personal_data_needed(state, OK) == PersonalDataNeeded(email=False, fiscal_code=False)
    assert "email" not in close_payment_request(state, OK)["additionalPaymentInformations"]


def test_a_user_cancellation_is_a_ko_with_the_notices_amount_and_no_payment_data():
    state = state_of(user_canceled(), notices=2)
    assert closure_outcome(state) is KO
    assert close_payment_request(state, KO) == {
        "paymentTokens": [TOKEN, "second-token"],
        "outcome": "KO",
        "transactionId": TX,
        "transactionDetails": {
            "transaction": {
                "transactionId": TX,
                "transactionStatus": "Annullato",
                "creationDate": "2023-09-25T14:44:31.177776+02:00",
                "amount": 15000,
                "grandTotal": 15000,
            },
            "info": {"type": "CP", "clientId": "CHECKOUT"},
            "user": {"type": "GUEST"},
        },
    }


def test_a_cancellation_retried_after_a_closure_error_is_still_a_cancellation():
    state = state_of(user_canceled(), closure_error())
    assert closure_outcome(state) is KO
    assert close_payment_request(state, KO)["transactionDetails"]["transaction"]["transactionStatus"] == "Annullato"


def test_a_denied_authorization_is_a_ko_with_the_gateway_error_code_and_no_payment_fields():
    requested = authorization_requested("CP")
    state = state_of(requested, authorization_completed(authorized=False, error_code="100"), closure_requested())
    assert closure_outcome(state) is KO
    assert personal_data_needed(state, KO) == PersonalDataNeeded(email=False, fiscal_code=False)
    body = close_payment_request(state, KO)
    assert body["outcome"] == "KO"
    for absent in ("idPSP", "totalAmount", "fee", "additionalPaymentInformations", "timestampOperation"):
        assert absent not in body
    transaction = body["transactionDetails"]["transaction"]
    assert transaction["transactionStatus"] == "Rifiutato"
    assert transaction["errorCode"] == "100"
    assert "authorizationCode" not in transaction
    assert transaction["grandTotal"] == 12150


def test_a_closure_error_before_an_authorized_closure_keeps_the_ok_outcome():
    state = state_of(*payment("CP"), closure_requested(), closure_error())
    assert closure_outcome(state) is OK
    assert close_payment_request(state, OK, email=EMAIL)["outcome"] == "OK"


def test_a_registered_user_gets_the_fiscal_code_only_when_the_outcome_is_ok():
    ok_state = closure_state("CP", user_id="c3a1b2d4-0000-4000-8000-000000000001")
    assert personal_data_needed(ok_state, OK) == PersonalDataNeeded(email=True, fiscal_code=True)
    body = close_payment_request(ok_state, OK, email=EMAIL, fiscal_code=FISCAL_CODE)
    assert body["transactionDetails"]["user"] == {"type": "REGISTERED", "fiscalCode": FISCAL_CODE}

    ko_state = closure_state("CP", authorized=False, user_id="c3a1b2d4-0000-4000-8000-000000000001")
    assert personal_data_needed(ko_state, KO).fiscal_code is False
    assert close_payment_request(ko_state, KO)["transactionDetails"]["user"] == {"type": "REGISTERED"}


def test_io_transactions_are_registered_and_need_a_user_id():
    body = body_for("CP", client="IO", user_id="c3a1b2d4-0000-4000-8000-000000000001")
    assert body["transactionDetails"]["user"]["type"] == "REGISTERED"
    assert body["transactionDetails"]["info"]["clientId"] == "IO"
    with pytest.raises(ClosePaymentRequestError, match="userId"):
        body_for("CP", client="IO")


def test_wisp_redirect_transactions_close_as_cart_transactions():
    assert body_for("CP", client="WISP_REDIRECT")["transactionDetails"]["info"]["clientId"] == "CHECKOUT_CART"


def test_an_npg_payment_with_a_redirect_type_code_cannot_be_closed():
    requested = authorization_requested("RBPB", gateway="NPG")
    state = state_of(requested, authorization_completed("NPG"), closure_requested())
    with pytest.raises(ClosePaymentRequestError, match="RBPB"):
        close_payment_request(state, OK, email=EMAIL)


def test_legacy_pgs_authorization_data_cannot_be_closed():
    pgs = {"type": "PGS", "errorCode": None, "authorizationResultDto": "OK"}
    completed = make_event(
        C.TRANSACTION_AUTHORIZATION_COMPLETED_EVENT,
        with_changes(C.TRANSACTION_AUTHORIZATION_COMPLETED_EVENT, transactionGatewayAuthorizationData=pgs),
    )
    state = state_of(authorization_requested("CP"), completed, closure_requested())
    with pytest.raises(ClosePaymentRequestError, match="PGS"):
        closure_outcome(state)


def test_an_npg_payment_needs_the_decrypted_email():
    with pytest.raises(ClosePaymentRequestError, match="e-mail"):
        close_payment_request(closure_state("CP"), OK)
