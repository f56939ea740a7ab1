"""The refundability truth table of spec §4, each row as is and after an EXPIRED event."""

import pytest

from tests.transactions.histories import history
from transactions.reduction import reduce_events
from transactions.refundability import is_refundable, is_refundable_check_required

TRUTH_TABLE = [
    # history, refundable, manual check required
    ("activated", False, False),
    ("cancellation requested", False, False),
    ("closure error after cancel", False, False),
    ("authorization requested", True, False),
    ("authorization completed OK", True, True),
    ("closure requested OK", True, True),
    ("closure error OK", True, True),
    ("authorization completed KO", False, False),
    ("closure requested KO", False, False),
    ("closure error KO", False, False),
    ("closed OK", False, False),
    ("closed OK after closure error", False, False),
    ("closed KO", True, False),
    ("notification requested KO", True, False),
    ("notification error KO", True, False),
    ("notified KO", True, False),
    ("notification requested OK", False, False),
    ("notification error OK", False, False),
    ("notified OK", False, False),
]


@pytest.mark.parametrize("expired", [False, True], ids=["as is", "after EXPIRED"])
@pytest.mark.parametrize(("name", "refundable", "check_required"), TRUTH_TABLE, ids=[r[0] for r in TRUTH_TABLE])
def test_truth_table(name, refundable, check_required, expired):
    state = reduce_events(history(f"expired after {name}" if expired else name))
    assert is_refundable(state) is refundable
    assert is_refundable_check_required(state) is check_required


def test_the_expired_rows_really_went_through_an_expiration():
    assert reduce_events(history("expired after authorization requested")).status.value == "EXPIRED"
    assert reduce_events(history("expired after activated")).status.value == "EXPIRED_NOT_AUTHORIZED"
    assert reduce_events(history("expired after closure error after cancel")).status.value == "CANCELLATION_EXPIRED"
