"""The receipt mail's template, subject, language and every template parameter (spec §8.3)."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tests.transactions.flows.stories import story
from transactions.receipt_mail import ReceiptMailError, build_receipt_mail
from transactions.reduction import reduce_events

EMAIL = "mario.rossi@example.org"
TX = "c0ffee0000000000000000000000c0de"


def mail_for(**story_options):
    return build_receipt_mail(reduce_events(story(**story_options)), EMAIL)


def test_success_mail_has_every_template_parameter():
    mail = mail_for(transaction_id=TX.upper())

    assert (mail.to, mail.subject, mail.language, mail.template_id) == (
        EMAIL,
        "Il riepilogo del tuo pagamento",
        "it-IT",
        "success",
    )
    assert mail.parameters == {
        "transaction": {
            "id": TX,
            "timestamp": "25 settembre 2023, 14:46:10",
            "amount": "121,50",
            "psp": {"name": "Intesa Sanpaolo", "fee": {"amount": "1,50"}},
            "rrn": "231234567890",
            "authCode": "123456",
            "paymentMethod": {
                "name": "Carte di credito",
                "logo": "https://assets.cdn.platform.pagopa.it/creditcard/visa.png",
                "accountHolder": None,
                "extraFee": False,
            },
        },
        "user": {"data": None, "email": EMAIL},
        "cart": {
            "items": [
                {
                    "refNumber": {"type": "codiceAvviso", "value": "302016723749670035"},
                    "debtor": None,
                    "payee": {"name": "Comune di Roma", "taxCode": "77777777777"},
                    "subject": "TARI 2023",
                    "amount": "120,00",
                }
            ],
            "amountPartial": "120,00",
        },
    }


def test_success_mail_speaks_the_receipt_language_and_formats_the_payment_date_in_its_zone():
    mail = mail_for(language="en-GB", payment_date="2024-01-02T00:05:09.5+01:00[Europe/Rome]")
    assert mail.language == "en-GB"
    # Java's `kk` writes the first hour of the day as 24.
    assert mail.parameters["transaction"]["timestamp"] == "02 gennaio 2024, 24:05:09"


def test_ko_mail_has_its_own_template_subject_language_and_no_fee():
    activated_at = datetime(2024, 8, 1, 9, 5, 7, 250000, tzinfo=ZoneInfo("Europe/Rome"))
    mail = mail_for(receipt_outcome="KO", language="de-DE", transaction_id=TX.upper(), created_at=activated_at)

    assert (mail.to, mail.subject, mail.language, mail.template_id) == (
        EMAIL,
        "Il pagamento non è riuscito",
        "it-IT",
        "ko",
    )
    assert mail.parameters == {"transaction": {"id": TX, "timestamp": "01 agosto 2024, 09:05:07", "amount": "120,00"}}


def test_a_receipt_without_an_outcome_sent_by_nodo_cannot_be_mailed():
    with pytest.raises(ReceiptMailError, match="NOT_RECEIVED"):
        mail_for(receipt_outcome="NOT_RECEIVED")


@pytest.mark.parametrize(
    ("type_code", "gateway", "expected_rrn", "expected_auth_code"),
    [
        ("CP", "NPG", "231234567890", "123456"),
        ("APPL", "NPG", "231234567890", "123456"),
        ("PPAL", "NPG", "-", "-"),
        ("SATY", "NPG", "-", "-"),
        ("GOOG", "NPG", "-", "-"),
        ("MYBK", "NPG", "-", "-"),
        ("BPAY", "NPG", "-", "01234567890123456789"),
        ("RBPB", "REDIRECT", "-", "123456"),
        ("RBPP", "REDIRECT", "-", "123456"),
        ("RBPR", "REDIRECT", "-", "123456"),
        ("RBPS", "REDIRECT", "-", "123456"),
        ("RICO", "REDIRECT", "-", "123456"),
        ("RPIC", "REDIRECT", "-", "123456"),
        ("KLRN", "REDIRECT", "-", "123456"),
        ("RFPB", "REDIRECT", "-", "123456"),
    ],
)
def test_rrn_and_authorization_code_by_payment_type(type_code, gateway, expected_rrn, expected_auth_code):
    transaction = mail_for(type_code=type_code, gateway=gateway).parameters["transaction"]
    assert (transaction["rrn"], transaction["authCode"]) == (expected_rrn, expected_auth_code)


@pytest.mark.parametrize(
    ("type_code", "gateway", "expected_rrn", "expected_auth_code"),
    [
        ("CP", "NPG", "E1695646270817bLhU", "-"),
        ("APPL", "NPG", "E1695646270817bLhU", "-"),
        ("RBPB", "REDIRECT", "-", "-"),
        ("KLRN", "REDIRECT", "-", "-"),
        ("RFPB", "REDIRECT", "-", "-"),
    ],
)
def test_missing_codes_fall_back_to_the_request_id_or_a_dash(type_code, gateway, expected_rrn, expected_auth_code):
    mail = mail_for(type_code=type_code, gateway=gateway, completed_changes={"rrn": None, "authorizationCode": None})
    transaction = mail.parameters["transaction"]
    assert (transaction["rrn"], transaction["authCode"]) == (expected_rrn, expected_auth_code)


def test_bancomat_pay_needs_npg_authorization_data():
    with pytest.raises(ReceiptMailError, match="NPG"):
        mail_for(type_code="BPAY", gateway="REDIRECT")


def test_an_unknown_payment_type_code_is_an_error():
    events = story()
    request = events[1]
    # Only a payment type code outside §8.3's list can reach this: build one past the enum.
    broken = type(request.data)(**{**request.data.__dict__, "payment_type_code": "XXXX"})
    events[1] = type(request)(
        id=request.id, transaction_id=request.transaction_id, creation_date=request.creation_date, data=broken
    )
    with pytest.raises(ReceiptMailError, match="XXXX"):
        build_receipt_mail(reduce_events(events), EMAIL)


def test_wisp_redirect_items_use_the_creditor_reference_id_when_there_is_one():
    wisp = mail_for(client_id="WISP_REDIRECT").parameters["cart"]["items"][0]["refNumber"]
    assert wisp == {"type": "codiceAvviso", "value": "02016723749670035"}

    notice = {**story()[0].to_json_dict()["data"]["paymentNotices"][0], "creditorReferenceId": None}
    without = mail_for(client_id="WISP_REDIRECT", activation_changes={"paymentNotices": [notice]})
    assert without.parameters["cart"]["items"][0]["refNumber"]["value"] == "302016723749670035"

    checkout = mail_for(client_id="CHECKOUT").parameters["cart"]["items"][0]["refNumber"]
    assert checkout["value"] == "302016723749670035"


def test_cart_lists_every_notice_and_a_missing_company_name_is_empty():
    first = story()[0].to_json_dict()["data"]["paymentNotices"][0]
    second = {
        **first,
        "rptId": "88888888888302000000000000005",
        "amount": 5,
        "companyName": None,
        "description": "Bollo",
    }
    mail = mail_for(activation_changes={"paymentNotices": [first, second]})

    items = mail.parameters["cart"]["items"]
    assert [item["payee"] for item in items] == [
        {"name": "Comune di Roma", "taxCode": "77777777777"},
        {"name": "", "taxCode": "88888888888"},
    ]
    assert [(item["subject"], item["amount"]) for item in items] == [("TARI 2023", "120,00"), ("Bollo", "0,05")]
    assert mail.parameters["cart"]["amountPartial"] == "120,05"
    assert mail.parameters["transaction"]["amount"] == "121,55"
