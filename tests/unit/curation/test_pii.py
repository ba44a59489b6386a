import polars as pl
import pytest

from curation.pii import find_pii, scrub_frame, scrub_text


@pytest.mark.parametrize(
    ("text", "placeholder"),
    [
        ("You can reach me at jane.doe@example.com.", "[EMAIL]"),
        ("write to o'neil+tag@mail.example.co.uk now", "[EMAIL]"),
        ("My phone is +1 415 555 0199.", "[PHONE]"),
        ("call (415) 555-2671 today", "[PHONE]"),
        ("or +44 20 7946 0958 from abroad", "[PHONE]"),
        ("The card on file is 4111 1111 1111 1234.", "[CARD_NUMBER]"),
        ("card 5500-0000-0000-0004 expired", "[CARD_NUMBER]"),
        ("I pasted my key sk-live-0123456789abcdef01234567 by mistake", "[API_KEY]"),
        ("aws AKIAIOSFODNN7EXAMPLE leaked", "[API_KEY]"),
        ("token ghp_abcdefghijklmnopqrstuvwxyz0123456789 here", "[API_KEY]"),
        ("Authorization: Bearer abcdefghijklmnopqrstuvwxyz123", "[API_KEY]"),
    ],
)
def test_each_kind_of_pii_is_replaced(text: str, placeholder: str) -> None:
    scrubbed = scrub_text(text)
    assert placeholder in scrubbed
    assert not find_pii(pl.Series([scrubbed])).any()


def test_ordinary_text_is_left_alone() -> None:
    text = "Order 4471 shipped on 2026-01-02 at 10:30; version 1.2.3 costs 89 EUR (ticket #52)."
    assert scrub_text(text) == text


def test_card_number_wins_over_phone() -> None:
    assert scrub_text("4111 1111 1111 1111") == "[CARD_NUMBER]"


def test_counts_cover_text_and_tool_arguments() -> None:
    frame = pl.DataFrame(
        {
            "prompt": ["mail a@b.com and c@d.org", "nothing here"],
            "tools": [
                [{"name": "t", "arguments": '{"to": "x@y.com"}', "status": "ok", "latency_ms": 1}],
                [],
            ],
        }
    )
    scrubbed, counts = scrub_frame(frame, ["prompt"], tool_columns=("tools",))
    assert counts == {"api_key": 0, "email": 3, "card_number": 0, "phone": 0}
    assert scrubbed["prompt"].to_list() == ["mail [EMAIL] and [EMAIL]", "nothing here"]
    assert scrubbed["tools"][0][0]["arguments"] == '{"to": "[EMAIL]"}'
