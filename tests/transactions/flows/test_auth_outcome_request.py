"""PATCH auth-requests bodies: from NPG's getState (operationTime in CET) and from stored outcomes (§5.8, §8.4)."""

import pytest

from tests.transactions.flows.stories import story
from transactions.auth_outcome_request import (
    InvalidPaymentGateway,
    body_from_completed_authorization,
    body_from_npg_state,
)
from transactions.clients.npg import NpgOperation
from transactions.reduction import reduce_events


def operation(operation_time="2024-01-15 10:30:00", **changes):
    return NpgOperation.from_json(
        {
            "orderId": "E1695646270817bLhU",
            "operationId": "op-1",
            "operationType": "AUTHORIZATION",
            "operationResult": "EXECUTED",
            "operationTime": operation_time,
            "paymentEndToEndId": "e2e-1",
            "additionalData": {
                "authorizationCode": "AUTH1",
                "rrn": "RRN1",
                "validationServiceId": "3DS",
                "errorCode": None,
                "cardId4": "card-4",
                "ignored": "x",
            },
            **changes,
        }
    )


def test_npg_body_takes_the_operation_and_its_additional_data():
    assert body_from_npg_state(operation()) == {
        "outcomeGateway": {
            "paymentGatewayType": "NPG",
            "operationResult": "EXECUTED",
            "orderId": "E1695646270817bLhU",
            "operationId": "op-1",
            "authorizationCode": "AUTH1",
            "rrn": "RRN1",
            "validationServiceId": "3DS",
            "errorCode": None,
            "cardId4": "card-4",
            "paymentEndToEndId": "e2e-1",
        },
        "timestampOperation": "2024-01-15T10:30:00+01:00",
    }


def test_npg_body_without_additional_data_sends_nulls():
    outcome = body_from_npg_state(operation(additionalData=None, operationResult="DECLINED"))["outcomeGateway"]
    assert outcome["operationResult"] == "DECLINED"
    assert [outcome[key] for key in ("authorizationCode", "rrn", "validationServiceId", "errorCode", "cardId4")] == [
        None
    ] * 5


@pytest.mark.parametrize(
    ("operation_time", "timestamp"),
    [
        ("2024-01-15 10:30:00", "2024-01-15T10:30:00+01:00"),  # winter: CET
        ("2024-08-15 10:30:00", "2024-08-15T10:30:00+02:00"),  # summer: CEST
        ("2024-08-15 10:30:00.123", "2024-08-15T10:30:00.123+02:00"),
        ("2024-08-15T10:30:00.5", "2024-08-15T10:30:00.500+02:00"),  # ISO local form
        ("2024-03-31 01:59:59", "2024-03-31T01:59:59+01:00"),  # just before spring-forward
        ("2024-03-31 02:30:00", "2024-03-31T03:30:00+02:00"),  # a time that does not exist: shifted, as java.time
        ("2024-03-31 03:00:00", "2024-03-31T03:00:00+02:00"),
        ("2024-10-27 02:30:00", "2024-10-27T02:30:00+02:00"),  # the repeated hour: its earlier offset
        ("2024-10-27 03:00:00", "2024-10-27T03:00:00+01:00"),
    ],
)
def test_operation_time_is_central_european_time_with_daylight_saving(operation_time, timestamp):
    assert body_from_npg_state(operation(operation_time))["timestampOperation"] == timestamp


def test_npg_body_from_the_stored_authorization():
    state = reduce_events(story("closure requested"))
    assert body_from_completed_authorization(state) == {
        "outcomeGateway": {
            "paymentGatewayType": "NPG",
            "operationResult": "EXECUTED",
            "orderId": "E1695646270817bLhU",
            "operationId": "01234567890123456789",
            "authorizationCode": "123456",
            "rrn": "231234567890",
            "validationServiceId": "3DS",
            "errorCode": None,
            "cardId4": None,
            "paymentEndToEndId": "e2e-0123",
        },
        "timestampOperation": "2023-09-25T14:45:00.123+02:00",
    }


def test_redirect_body_from_the_stored_authorization():
    state = reduce_events(
        story(
            "authorization completed",
            gateway="REDIRECT",
            type_code="RBPS",
            authorized=False,
            gateway_changes={"errorCode": "E01"},
        )
    )
    assert body_from_completed_authorization(state) == {
        "outcomeGateway": {"paymentGatewayType": "REDIRECT", "outcome": "KO", "errorCode": "E01"},
        "timestampOperation": "2023-09-25T14:45:00.123+02:00",
    }


def test_legacy_gateways_have_no_outcome_to_send():
    pgs = {"type": "PGS", "errorCode": None, "authorizationResultDto": "OK"}
    events = story("authorization completed", gateway="VPOS")
    completed = events[-1].to_json_dict()
    completed["data"]["transactionGatewayAuthorizationData"] = pgs
    from transactions.events import parse_event

    events[-1] = parse_event(completed)
    with pytest.raises(InvalidPaymentGateway, match="VPOS"):
        body_from_completed_authorization(reduce_events(events))
