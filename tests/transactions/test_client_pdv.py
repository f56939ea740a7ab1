"""Personal Data Vault (spec §8.5): each token is detokenized with the key of its kind."""

import pytest

from tests.transactions.clients_support import base_url, configure, only_request
from transactions.clients import FailureReason
from transactions.clients.pdv import PdvError, decrypt_email, decrypt_fiscal_code


@pytest.fixture
def vault(settings, httpserver):
    configure(
        settings,
        PERSONAL_DATA_VAULT_API_BASE_PATH=base_url(httpserver) + "/tokenizer/v1",
        ECOMMERCE_PERSONAL_DATA_VAULT_API_KEY="ecommerce-pdv-key",
        WALLET_SESSION_PERSONAL_DATA_VAULT_API_KEY="wallet-pdv-key",
    )
    return httpserver


def test_an_email_token_is_decrypted_with_the_ecommerce_key(vault):
    vault.expect_request("/tokenizer/v1/tokens/email-token-1/pii", method="GET").respond_with_json(
        {"pii": "mario.rossi@example.org"}
    )

    assert decrypt_email("email-token-1") == "mario.rossi@example.org"
    assert only_request(vault).headers["x-api-key"] == "ecommerce-pdv-key"


def test_a_user_id_is_decrypted_with_the_wallet_session_key(vault):
    user_id = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
    vault.expect_request(f"/tokenizer/v1/tokens/{user_id}/pii", method="GET").respond_with_json(
        {"pii": "RSSMRA80A01H501U"}
    )

    assert decrypt_fiscal_code(user_id) == "RSSMRA80A01H501U"
    assert only_request(vault).headers["x-api-key"] == "wallet-pdv-key"


def test_a_token_with_reserved_characters_stays_one_path_segment(vault):
    vault.expect_request("/tokenizer/v1/tokens/a/b?c/pii").respond_with_json({"pii": "x@example.org"})

    decrypt_email("a/b?c")

    assert only_request(vault).environ["RAW_URI"] == "/tokenizer/v1/tokens/a%2Fb%3Fc/pii"


@pytest.mark.parametrize("body", [{}, {"pii": None}, {"pii": 12}])
def test_an_answer_without_pii_text_is_invalid(vault, body):
    vault.expect_request("/tokenizer/v1/tokens/t/pii").respond_with_json(body)

    with pytest.raises(PdvError) as raised:
        decrypt_email("t")

    assert raised.value.reason == FailureReason.INVALID_RESPONSE


@pytest.mark.parametrize(
    ("status", "retryable"), [(400, False), (401, False), (404, False), (422, False), (500, True), (504, True)]
)
def test_errors_carry_the_status(vault, status, retryable):
    vault.expect_request("/tokenizer/v1/tokens/t/pii").respond_with_json({"message": "no"}, status=status)

    with pytest.raises(PdvError) as raised:
        decrypt_fiscal_code("t")

    assert (raised.value.status, raised.value.retryable) == (status, retryable)
