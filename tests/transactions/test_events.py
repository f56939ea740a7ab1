"""v2 events as data: strict parsing naming the bad field, and byte-identical serialisation."""

import copy
import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from receivers.handlers import DeadLetterCategory, EventParsingError
from tests.transactions.factories import EVENT_DATA, TX, event_json, with_changes
from transactions import events as ev
from transactions.events import EventCode

C = EventCode


def compact(obj) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def variant_fixtures():
    """Fixtures beyond one per code: other gateways, absent optional fields, omitted nulls."""
    activation = EVENT_DATA[C.TRANSACTION_ACTIVATED_EVENT]
    old_notice = {k: v for k, v in activation["paymentNotices"][0].items() if k != "creditorReferenceId"}
    old_activation = {k: v for k, v in activation.items() if k not in ("idCart", "userId")}
    old_activation = {**old_activation, "paymentNotices": [old_notice], "clientId": "WISP_REDIRECT"}
    old_activation["transactionGatewayActivationData"] = {"type": "EMPTY"}
    redirect_request = with_changes(
        C.TRANSACTION_AUTHORIZATION_REQUESTED_EVENT,
        paymentGateway="REDIRECT",
        paymentTypeCode="RBPS",
        transactionGatewayAuthorizationRequestedData={
            "type": "REDIRECT",
            "logo": "https://example.org/logo.png",
            "transactionOutcomeTimeoutMillis": 60000,
        },
    )
    paypal_request = copy.deepcopy(EVENT_DATA[C.TRANSACTION_AUTHORIZATION_REQUESTED_EVENT])
    paypal_request["transactionGatewayAuthorizationRequestedData"]["walletInfo"]["walletDetails"] = {
        "type": "PAYPAL",
        "maskedEmail": "us***@example.org",
    }
    del paypal_request["idBundle"], paypal_request["isContextualOnboard"]
    return [
        ("activation without optional fields", C.TRANSACTION_ACTIVATED_EVENT, old_activation),
        ("redirect authorization request", C.TRANSACTION_AUTHORIZATION_REQUESTED_EVENT, redirect_request),
        ("paypal wallet, no bundle", C.TRANSACTION_AUTHORIZATION_REQUESTED_EVENT, paypal_request),
        (
            "redirect outcome",
            C.TRANSACTION_AUTHORIZATION_COMPLETED_EVENT,
            with_changes(
                C.TRANSACTION_AUTHORIZATION_COMPLETED_EVENT,
                authorizationCode=None,
                rrn=None,
                transactionGatewayAuthorizationData={"type": "REDIRECT", "outcome": "KO", "errorCode": "E01"},
            ),
        ),
        (
            "legacy PGS outcome",
            C.TRANSACTION_AUTHORIZATION_COMPLETED_EVENT,
            with_changes(
                C.TRANSACTION_AUTHORIZATION_COMPLETED_EVENT,
                transactionGatewayAuthorizationData={"type": "PGS", "errorCode": None, "authorizationResultDto": "OK"},
            ),
        ),
        (
            "closure error without status",
            C.TRANSACTION_CLOSURE_ERROR_EVENT,
            {"httpErrorCode": None, "errorDescription": None, "errorType": "COMMUNICATION_ERROR"},
        ),
        (
            "closure retried without error data",
            C.TRANSACTION_CLOSURE_RETRIED_EVENT,
            {"retryCount": 2, "closureErrorData": None},
        ),
        (
            "refund requested with trigger, no auth data",
            C.TRANSACTION_REFUND_REQUESTED_EVENT,
            {"statusBeforeRefunded": "EXPIRED", "gatewayAuthData": None, "refundTrigger": "MANUAL"},
        ),
        (
            "refund retried without auth data",
            C.TRANSACTION_REFUND_RETRIED_EVENT,
            {"retryCount": 2, "transactionGatewayAuthorizationData": None},
        ),
        (
            "redirect refund",
            C.TRANSACTION_REFUNDED_EVENT,
            {"statusBeforeRefunded": "REFUND_ERROR", "gatewayOperationData": {"type": "EMPTY"}},
        ),
        (
            "receipt with trigger",
            C.TRANSACTION_USER_RECEIPT_REQUESTED_EVENT,
            {**EVENT_DATA[C.TRANSACTION_USER_RECEIPT_REQUESTED_EVENT], "notificationTrigger": "MANUAL"},
        ),
        ("closure without wasCanceledByUser", C.TRANSACTION_CLOSED_EVENT, {"responseOutcome": "KO"}),
    ]


@pytest.mark.parametrize("code", list(EventCode))
def test_every_event_type_round_trips_to_identical_text(code):
    text = compact(event_json(code))
    event = ev.parse_event(json.loads(text))
    assert type(event).EVENT_CODE is code
    assert event.to_json() == text


@pytest.mark.parametrize(("name", "code", "data"), variant_fixtures(), ids=lambda v: v if isinstance(v, str) else "")
def test_variant_payloads_round_trip_to_identical_text(name, code, data):
    text = compact(event_json(code, data))
    assert ev.parse_event(json.loads(text)).to_json() == text


def test_the_spec_example_round_trips():
    text = (
        '{"_class":"it.pagopa.ecommerce.commons.documents.v2.TransactionClosureRetriedEvent",'
        '"id":"0660cd04-db3e-4b7e-858b-e8f75a29ac30","transactionId":"bdb92a6577fb4aab9bba2ebb80cd8310",'
        '"creationDate":"2023-09-25T14:44:31.177776+02:00[Europe/Rome]","data":{"retryCount":1,'
        '"closureErrorData":{"httpErrorCode":"INTERNAL_SERVER_ERROR","errorDescription":"Internal Server Error",'
        '"errorType":"KO_RESPONSE_RECEIVED"}},"eventCode":"TRANSACTION_CLOSURE_RETRIED_EVENT"}'
    )
    event = ev.parse_event(json.loads(text))
    assert isinstance(event, ev.TransactionClosureRetriedEvent)
    assert event.data.retry_count == 1
    assert event.data.closure_error_data.http_status_code == 500
    assert event.to_json() == text


def test_parsed_payloads_are_typed():
    event = ev.parse_event(event_json(C.TRANSACTION_AUTHORIZATION_REQUESTED_EVENT))
    data = event.data
    assert data.payment_gateway is ev.PaymentGateway.NPG
    assert data.payment_type_code is ev.PaymentTypeCode.CP
    assert data.total_amount == 12150
    requested = data.transaction_gateway_authorization_requested_data
    assert isinstance(requested, ev.NpgTransactionGatewayAuthorizationRequestedData)
    assert requested.get_state_session_id == "confirm-session-1"
    assert isinstance(requested.wallet_info.wallet_details, ev.CardWalletDetails)
    activation = ev.parse_event(event_json(C.TRANSACTION_ACTIVATED_EVENT)).data
    assert activation.notices_amount == 12000
    assert activation.payment_notices[0].fiscal_code == "77777777777"
    assert ev.ClientId.WISP_REDIRECT.effective is ev.ClientId.CHECKOUT_CART


def test_user_receipt_nulls_and_refund_trigger_are_omitted_when_written():
    receipt = ev.TransactionUserReceiptData(response_outcome=ev.UserReceiptOutcome.KO, language="it-IT")
    event = ev.TransactionUserReceiptAddErrorEvent.new(TX, receipt)
    assert event.to_json_dict()["data"] == {"responseOutcome": "KO", "language": "it-IT"}
    refund = ev.TransactionRefundRequestedData(
        status_before_refunded=ev.TransactionStatus.EXPIRED, gateway_auth_data=None
    )
    assert ev.TransactionRefundRequestedEvent.new(TX, refund).to_json_dict()["data"] == {
        "statusBeforeRefunded": "EXPIRED",
        "gatewayAuthData": None,
    }


def test_new_events_write_nulls_for_optional_fields_like_the_reference():
    data = ev.TransactionClosureData(response_outcome=ev.ClosureOutcome.OK)
    assert ev.TransactionClosedEvent.new(TX, data).to_json_dict()["data"] == {
        "responseOutcome": "OK",
        "wasCanceledByUser": None,
    }


def test_new_events_get_a_uuid_and_a_rome_zoned_creation_date():
    event = ev.TransactionClosureRequestedEvent.new(TX)
    assert len(event.id) == 36
    assert event.creation_date.endswith("[Europe/Rome]")
    assert event.created_at.tzinfo.key == "Europe/Rome"
    assert ev.parse_event(event.to_json_dict()) == event


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2023-09-25T14:44:31.177776+02:00[Europe/Rome]", datetime(2023, 9, 25, 12, 44, 31, 177776, ZoneInfo("UTC"))),
        ("2023-09-25T14:44:31.177776+02:00", datetime(2023, 9, 25, 12, 44, 31, 177776, ZoneInfo("UTC"))),
        ("2023-01-25T12:44:31Z[UTC]", datetime(2023, 1, 25, 12, 44, 31, tzinfo=ZoneInfo("UTC"))),
        ("2023-01-25T13:44+01:00[Europe/Rome]", datetime(2023, 1, 25, 12, 44, tzinfo=ZoneInfo("UTC"))),
        (
            "2023-09-25T14:44:31.177776123+02:00[Europe/Rome]",
            datetime(2023, 9, 25, 12, 44, 31, 177776, ZoneInfo("UTC")),
        ),
    ],
)
def test_zoned_and_offset_date_times_are_both_understood(text, expected):
    assert ev.parse_zoned_datetime(text) == expected


def _set(path, value):
    def change(obj):
        *parents, last = path
        target = obj
        for key in parents:
            target = target[key]
        if value is KeyError:
            del target[last]
        else:
            target[last] = value
        return obj

    return change


INVALID = [
    (C.TRANSACTION_CLOSED_EVENT, _set(["extra"], 1), "event.extra: unknown field"),
    (C.TRANSACTION_CLOSED_EVENT, _set(["_class"], KeyError), "event._class: required field missing"),
    (
        C.TRANSACTION_CLOSED_EVENT,
        _set(["_class"], "it.pagopa.ecommerce.commons.documents.v1.TransactionClosedEvent"),
        "event._class",
    ),
    (C.TRANSACTION_CLOSED_EVENT, _set(["eventCode"], "TRANSACTION_CLOSURE_FAILED_EVENT"), "event.eventCode"),
    (C.TRANSACTION_CLOSED_EVENT, _set(["id"], 12), "event.id"),
    (
        C.TRANSACTION_CLOSED_EVENT,
        _set(["transactionId"], "bdb92a65-77fb-4aab-9bba-2ebb80cd8310"),
        "event.transactionId",
    ),
    (C.TRANSACTION_CLOSED_EVENT, _set(["creationDate"], "2023-09-25T14:44:31"), "event.creationDate"),
    (
        C.TRANSACTION_CLOSED_EVENT,
        _set(["creationDate"], "2023-09-25T14:44:31+02:00[Mars/Olympus]"),
        "event.creationDate",
    ),
    (C.TRANSACTION_CLOSED_EVENT, _set(["data"], None), "event.data: must not be null"),
    (C.TRANSACTION_CLOSURE_REQUESTED_EVENT, _set(["data"], {}), "event.data: must be null"),
    (C.TRANSACTION_CLOSED_EVENT, _set(["data", "responseOutcome"], "MAYBE"), "event.data.responseOutcome: 'MAYBE'"),
    (C.TRANSACTION_CLOSED_EVENT, _set(["data", "wasCanceledByUser"], "no"), "event.data.wasCanceledByUser"),
    (
        C.TRANSACTION_CLOSED_EVENT,
        _set(["data", "responseOutcome"], KeyError),
        "event.data.responseOutcome: required field missing",
    ),
    (C.TRANSACTION_CLOSED_EVENT, _set(["data", "unexpected"], True), "event.data.unexpected: unknown field"),
    (
        C.TRANSACTION_CLOSURE_RETRIED_EVENT,
        _set(["data", "retryCount"], "1"),
        "event.data.retryCount: expected an integer",
    ),
    (C.TRANSACTION_CLOSURE_RETRIED_EVENT, _set(["data", "retryCount"], True), "event.data.retryCount"),
    (C.TRANSACTION_CLOSURE_RETRIED_EVENT, _set(["data", "retryCount"], 1.0), "event.data.retryCount"),
    (
        C.TRANSACTION_CLOSURE_RETRIED_EVENT,
        _set(["data", "retryCount"], None),
        "event.data.retryCount: must not be null",
    ),
    (
        C.TRANSACTION_CLOSURE_RETRIED_EVENT,
        _set(["data", "closureErrorData", "errorType"], "OOPS"),
        "event.data.closureErrorData.errorType",
    ),
    (
        C.TRANSACTION_ACTIVATED_EVENT,
        _set(["data", "paymentNotices", 0, "amount"], "120.00"),
        "event.data.paymentNotices[0].amount",
    ),
    (
        C.TRANSACTION_ACTIVATED_EVENT,
        _set(["data", "paymentNotices", 0, "transferList", 0, "digitalStamp"], None),
        "event.data.paymentNotices[0].transferList[0].digitalStamp: must not be null",
    ),
    (
        C.TRANSACTION_ACTIVATED_EVENT,
        _set(["data", "paymentNotices"], {}),
        "event.data.paymentNotices: expected an array",
    ),
    (C.TRANSACTION_ACTIVATED_EVENT, _set(["data", "clientId"], "WEB"), "event.data.clientId"),
    (
        C.TRANSACTION_ACTIVATED_EVENT,
        _set(["data", "paymentNotices", 0, "companyName"], KeyError),
        "event.data.paymentNotices[0].companyName: required field missing",
    ),
    (
        C.TRANSACTION_ACTIVATED_EVENT,
        _set(["data", "paymentTokenValiditySeconds"], KeyError),
        "event.data.paymentTokenValiditySeconds: required field missing",
    ),
    (
        C.TRANSACTION_AUTHORIZATION_COMPLETED_EVENT,
        _set(["data", "transactionGatewayAuthorizationData", "type"], KeyError),
        "event.data.transactionGatewayAuthorizationData.type: None is not one of NPG, REDIRECT, PGS",
    ),
    (
        C.TRANSACTION_CLOSURE_RETRIED_EVENT,
        _set(["data", "closureErrorData"], KeyError),
        "event.data.closureErrorData: required field missing",
    ),
    (
        C.TRANSACTION_ACTIVATED_EVENT,
        _set(["data", "email"], "someone@example.org"),
        "event.data.email: expected an object",
    ),
    (
        C.TRANSACTION_ACTIVATED_EVENT,
        _set(["data", "transactionGatewayActivationData", "type"], "XPAY"),
        "event.data.transactionGatewayActivationData.type",
    ),
    (
        C.TRANSACTION_ACTIVATED_EVENT,
        _set(["data", "transactionGatewayActivationData", "orderId"], KeyError),
        "event.data.transactionGatewayActivationData.orderId: required field missing",
    ),
    (
        C.TRANSACTION_AUTHORIZATION_REQUESTED_EVENT,
        _set(["data", "paymentTypeCode"], "XX"),
        "event.data.paymentTypeCode",
    ),
    (
        C.TRANSACTION_AUTHORIZATION_REQUESTED_EVENT,
        _set(["data", "paymentGateway"], "STRIPE"),
        "event.data.paymentGateway",
    ),
    (
        C.TRANSACTION_AUTHORIZATION_REQUESTED_EVENT,
        _set(["data", "transactionGatewayAuthorizationRequestedData", "walletInfo", "walletDetails", "type"], "IBAN"),
        "event.data.transactionGatewayAuthorizationRequestedData.walletInfo.walletDetails.type",
    ),
    (
        C.TRANSACTION_AUTHORIZATION_REQUESTED_EVENT,
        _set(["data", "transactionGatewayAuthorizationRequestedData", "walletInfo", "walletDetails", "bin"], 401200),
        "event.data.transactionGatewayAuthorizationRequestedData.walletInfo.walletDetails.bin: expected a string",
    ),
    (
        C.TRANSACTION_AUTHORIZATION_COMPLETED_EVENT,
        _set(["data", "transactionGatewayAuthorizationData", "operationResult"], "MAYBE"),
        "event.data.transactionGatewayAuthorizationData.operationResult",
    ),
    (
        C.TRANSACTION_AUTHORIZATION_COMPLETED_EVENT,
        _set(["data", "transactionGatewayAuthorizationData"], None),
        "event.data.transactionGatewayAuthorizationData: must not be null",
    ),
    (
        C.TRANSACTION_EXPIRED_EVENT,
        _set(["data", "statusBeforeExpiration"], "GONE"),
        "event.data.statusBeforeExpiration",
    ),
    (
        C.TRANSACTION_REFUND_REQUESTED_EVENT,
        _set(["data", "gatewayAuthData"], KeyError),
        "event.data.gatewayAuthData: required field missing",
    ),
    (
        C.TRANSACTION_REFUNDED_EVENT,
        _set(["data", "gatewayOperationData", "operationId"], KeyError),
        "event.data.gatewayOperationData.operationId: required field missing",
    ),
    (C.TRANSACTION_USER_RECEIPT_ADDED_EVENT, _set(["data", "responseOutcome"], "SENT"), "event.data.responseOutcome"),
]


@pytest.mark.parametrize(("code", "change", "message"), INVALID)
def test_invalid_events_are_refused_with_the_field_named(code, change, message):
    obj = change(event_json(code))
    with pytest.raises(EventParsingError) as raised:
        ev.parse_event(obj)
    assert str(raised.value).startswith(message)
    assert raised.value.category is DeadLetterCategory.EVENT_PARSING_ERROR


@pytest.mark.parametrize("obj", [None, [], "event", 3])
def test_non_objects_are_refused(obj):
    with pytest.raises(EventParsingError, match=r"^event: expected an object"):
        ev.parse_event(obj)
