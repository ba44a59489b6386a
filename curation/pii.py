"""PII scrubbing, vectorised in polars: emails, phone numbers, API keys and card numbers.

Each kind of PII is replaced by a placeholder (`[EMAIL]`, `[PHONE]`, `[API_KEY]`,
`[CARD_NUMBER]`) and counted. Patterns run in a fixed order (API keys, emails, card numbers,
phones) because a longer pattern must win over a shorter one inside it (a card number contains
a phone-like run of digits). The patterns over-scrub rather than under-scrub: a ten-digit order
number becomes `[PHONE]`, which costs little in a training set.
"""

from dataclasses import dataclass

import polars as pl

__all__ = ["PII_PATTERNS", "PiiPattern", "find_pii", "scrub_frame", "scrub_text"]


@dataclass(frozen=True)
class PiiPattern:
    """One kind of PII: its name in the manifest, its regex (Rust syntax) and placeholder."""

    name: str
    regex: str
    placeholder: str


PII_PATTERNS: tuple[PiiPattern, ...] = (
    PiiPattern(
        "api_key",
        r"\b(?:(?:sk|pk|rk)[-_](?:live[-_]|test[-_]|proj[-_])?[A-Za-z0-9_-]{16,}"
        r"|AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{30,}|xox[abprs]-[A-Za-z0-9-]{10,}"
        r"|AIza[0-9A-Za-z_-]{35}|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,})"
        r"|(?i:bearer)\s+[A-Za-z0-9._~+/-]{20,}=*",
        "[API_KEY]",
    ),
    PiiPattern(
        "email",
        r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}",
        "[EMAIL]",
    ),
    PiiPattern("card_number", r"\b(?:\d[ -]?){12,18}\d\b", "[CARD_NUMBER]"),
    PiiPattern(
        "phone",
        r"(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?|\b\d{2,4}[ .-])\d{3,4}[ .-]?\d{3,4}\b"
        r"|\+\d{7,14}\b|\b\d{10}\b",
        "[PHONE]",
    ),
)

# One alternation of all patterns: a cheap pre-check that finds rows with nothing to scrub.
_ANY_PII = "|".join(f"(?:{pattern.regex})" for pattern in PII_PATTERNS)


def scrub_text(text: str) -> str:
    """Scrub one string (tests and small inputs; frames go through `scrub_frame`)."""
    frame, _ = scrub_frame(pl.DataFrame({"text": [text]}), text_columns=["text"])
    return str(frame["text"][0])


def find_pii(texts: pl.Series) -> pl.Series:
    """Boolean per text: does any PII pattern still match? (the output check)."""
    return texts.fill_null("").str.contains(_ANY_PII)


def scrub_frame(
    frame: pl.DataFrame,
    text_columns: list[str],
    tool_columns: tuple[str, ...] = (),
) -> tuple[pl.DataFrame, dict[str, int]]:
    """Replace PII in string columns and in the `arguments` of tool-call list columns.

    Returns the scrubbed frame and the number of replacements per kind of PII.
    """
    counts = {pattern.name: 0 for pattern in PII_PATTERNS}
    if frame.is_empty():
        return frame, counts
    for pattern in PII_PATTERNS:
        count_exprs = [
            pl.col(column).str.count_matches(pattern.regex).sum().alias(column)
            for column in text_columns
        ] + [
            pl.col(column)
            .list.eval(pl.element().struct.field("arguments").str.count_matches(pattern.regex))
            .list.sum()
            .sum()
            .alias(column)
            for column in tool_columns
        ]
        found = frame.select(count_exprs).row(0)
        counts[pattern.name] = int(sum(value or 0 for value in found))
        if not counts[pattern.name]:
            continue
        frame = frame.with_columns(
            [
                pl.col(column).str.replace_all(pattern.regex, pattern.placeholder)
                for column in text_columns
            ]
            + [
                pl.col(column).list.eval(
                    pl.element().struct.with_fields(
                        pl.field("arguments").str.replace_all(pattern.regex, pattern.placeholder)
                    )
                )
                for column in tool_columns
            ]
        )
    return frame, counts
