"""Redirect URL lookup (spec §12): absent keys match anything, the most exactly-equal keys win, one must remain."""

import pytest

from transactions.redirect_urls import (
    RedirectUrlAmbiguous,
    RedirectUrlNotFound,
    expected_criteria_problems,
    resolve_redirect_url,
)


def entry(url, **criteria):
    return {"url": url, "matchingCriteria": criteria}


CONFIGURATION = [
    entry("https://rbpb.example/", PSP_ID="PPAYITR1XXX", PAYMENT_TYPE_CODE="RBPB"),
    entry("https://rbpr-checkout.example/", TOUCHPOINT="CHECKOUT", PSP_ID="BPPIITRRXXX", PAYMENT_TYPE_CODE="RBPR"),
    entry("https://rbpr-io.example/", TOUCHPOINT="IO", PSP_ID="BPPIITRRXXX", PAYMENT_TYPE_CODE="RBPR"),
    entry("https://rico.example/", PAYMENT_TYPE_CODE="RICO"),
    entry("https://rico-special.example/", PAYMENT_TYPE_CODE="RICO", PSP_ID="SPECIAL"),
    entry("https://klrn-a.example/", PAYMENT_TYPE_CODE="KLRN", PSP_CHANNEL_ID="A"),
    entry("https://klrn-b.example/", PAYMENT_TYPE_CODE="KLRN", PSP_CHANNEL_ID="B"),
]


def search(touchpoint, psp, type_code, channel):
    return {"TOUCHPOINT": touchpoint, "PSP_ID": psp, "PAYMENT_TYPE_CODE": type_code, "PSP_CHANNEL_ID": channel}


@pytest.mark.parametrize(
    ("criteria", "url"),
    [
        (search("CHECKOUT", "PPAYITR1XXX", "RBPB", "ch-1"), "https://rbpb.example/"),
        (search("IO", "PPAYITR1XXX", "RBPB", "ch-2"), "https://rbpb.example/"),
        (search("CHECKOUT", "BPPIITRRXXX", "RBPR", "ch-1"), "https://rbpr-checkout.example/"),
        (search("IO", "BPPIITRRXXX", "RBPR", "ch-1"), "https://rbpr-io.example/"),
        (search("IO", "ANY", "RICO", "ch"), "https://rico.example/"),
        # Both RICO entries match; the one with more equal keys wins.
        (search("IO", "SPECIAL", "RICO", "ch"), "https://rico-special.example/"),
        (search("IO", "ANY", "KLRN", "B"), "https://klrn-b.example/"),
        ({"PAYMENT_TYPE_CODE": "RBPB"}, "https://rbpb.example/"),
    ],
)
def test_the_best_matching_entry_gives_the_url(criteria, url):
    assert resolve_redirect_url(criteria, CONFIGURATION) == url


@pytest.mark.parametrize(
    "criteria",
    [
        search("CHECKOUT_CART", "BPPIITRRXXX", "RBPR", "ch"),
        search("IO", "OTHER", "RBPB", "ch"),
        search("IO", "ANY", "KLRN", "C"),
        {"PAYMENT_TYPE_CODE": "RFPB"},
    ],
)
def test_no_matching_entry_is_no_configuration(criteria):
    with pytest.raises(RedirectUrlNotFound, match="No configuration found"):
        resolve_redirect_url(criteria, CONFIGURATION)


@pytest.mark.parametrize(
    "criteria",
    [
        {"PAYMENT_TYPE_CODE": "RBPR"},
        {"PAYMENT_TYPE_CODE": "KLRN"},
        {"PSP_ID": "BPPIITRRXXX"},
        # Both RICO entries match with one equal key each.
        {"PAYMENT_TYPE_CODE": "RICO"},
    ],
)
def test_equally_good_matches_are_ambiguous(criteria):
    with pytest.raises(RedirectUrlAmbiguous, match="Multiple configurations found"):
        resolve_redirect_url(criteria, CONFIGURATION)


def test_the_configured_mapping_is_used_by_default(settings):
    settings.DISPATCHER = settings.DISPATCHER.replace(REDIRECT_URL_CONFIGURATION=CONFIGURATION)

    assert resolve_redirect_url({"PAYMENT_TYPE_CODE": "RBPB"}) == "https://rbpb.example/"


def test_expected_criteria_problems_name_each_unresolved_set():
    problems = expected_criteria_problems(
        CONFIGURATION, [{"PAYMENT_TYPE_CODE": "RBPB"}, {"PAYMENT_TYPE_CODE": "RFPB"}, {"PAYMENT_TYPE_CODE": "KLRN"}]
    )

    assert problems == [
        "REDIRECT_URL_CONFIGURATION: No configuration found for PAYMENT_TYPE_CODE=RFPB "
        "(from REDIRECT_EXPECTED_MATCHING_CRITERIA)",
        "REDIRECT_URL_CONFIGURATION: Multiple configurations found for PAYMENT_TYPE_CODE=KLRN "
        "(from REDIRECT_EXPECTED_MATCHING_CRITERIA)",
    ]
