"""parse_timestamp: RFC 3339 text dates, strictly; everything else refused with the reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from factories import metadata
from modelreg import MetadataError, ModelMetadata
from modelreg._dates import parse_timestamp

PLUS_2 = timezone(timedelta(hours=2))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-05T12:34:56Z", datetime(2026, 1, 5, 12, 34, 56, tzinfo=UTC)),
        ("2026-01-05t12:34:56z", datetime(2026, 1, 5, 12, 34, 56, tzinfo=UTC)),
        ("2026-01-05 12:34:56Z", datetime(2026, 1, 5, 12, 34, 56, tzinfo=UTC)),  # RFC 3339 5.6 allows the space
        ("2026-01-05T12:34:56+02:00", datetime(2026, 1, 5, 12, 34, 56, tzinfo=PLUS_2)),
        ("2026-01-05T12:34:56-00:00", datetime(2026, 1, 5, 12, 34, 56, tzinfo=UTC)),
        ("2026-01-05T12:34:56.5Z", datetime(2026, 1, 5, 12, 34, 56, 500_000, tzinfo=UTC)),
        ("2026-01-05T12:34:56.123456+02:00", datetime(2026, 1, 5, 12, 34, 56, 123_456, tzinfo=PLUS_2)),
        ("2026-01-05", datetime(2026, 1, 5, tzinfo=UTC)),  # a bare date is midnight UTC
        ("2024-02-29T23:59:59Z", datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC)),
    ],
)
def test_rfc_3339_dates_are_read_exactly(text: str, expected: datetime) -> None:
    parsed = parse_timestamp(text)
    assert parsed == expected
    assert parsed.utcoffset() == expected.utcoffset()


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("2026-01-05T1234561234567", "not in RFC 3339 form"),  # fromisoformat reads 12:34:56.123456
        ("2026-01-05T12:34:56", "no UTC offset"),
        ("2026-01-05T12:34:56.5", "no UTC offset"),
        ("2026-01-05T12:34Z", "no seconds"),
        ("2026-01-05T12Z", "not in RFC 3339 form"),
        ("2026-01-05\x0012:34:56Z", "with '\\x00'; use 'T'"),
        ("2026-01-05_12:34:56Z", "with '_'; use 'T'"),
        ("2026-01-05T12:34:56Z trailing", "not in RFC 3339 form"),
        ("2026-01-05T12:34:56Zjunk", "not in RFC 3339 form"),
        ("2026-01-05\n", "use 'T'"),
        (" 2026-01-05", "not in RFC 3339 form"),
        ("2026-01-05" + "0" * 1_000_000, "1000010 characters long"),
        ("2026-01-05T12:34:56.1234567Z", "more than 6 fractional digits"),
        ("2026-01-05T12:34:56.123456789+00:00", "more than 6 fractional digits"),
        ("2026-01-05T12:34:56,5Z", "not in RFC 3339 form"),
        ("2026-01-05T12:34:56.Z", "not in RFC 3339 form"),
        ("2026-01-05T12:34:56+0200", "not in RFC 3339 form"),
        ("2026-01-05T12:34:56+02", "not in RFC 3339 form"),
        ("2026-01-05T23:59:60Z", "leap second"),
        ("2026-02-30", "not a real date"),
        ("2026-13-01", "not a real date"),
        ("2026-01-05T24:00:00Z", "not a real date"),
        ("2026-01-05T12:34:56+24:00", "not a real date"),
        ("0000-01-01", "not a real date"),
        ("2026-1-5", "not in RFC 3339 form"),
        ("20260105", "not in RFC 3339 form"),
        ("2026-W02-1", "not in RFC 3339 form"),
        ("２０２６-01-05", "not in RFC 3339 form"),  # other scripts' digits
        ("", "not in RFC 3339 form"),
        ("yesterday", "not in RFC 3339 form"),
    ],
)
def test_anything_else_is_refused_with_the_reason_and_the_valid_forms(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match="expected an RFC 3339 date and time such as '2026-01-05T12:34:56Z'") as caught:
        parse_timestamp(text)
    assert reason in str(caught.value)
    assert len(str(caught.value)) < 400


def test_metadata_from_text_uses_the_rfc_3339_parser() -> None:
    data = metadata().to_dict()
    stored = ModelMetadata.from_dict({**data, "training_date": "2026-01-05T14:30:00+02:00"})
    assert stored.training_date == datetime(2026, 1, 5, 12, 30, tzinfo=UTC)
    assert ModelMetadata.from_dict({**data, "training_date": "2026-01-05"}).training_date == datetime(
        2026, 1, 5, tzinfo=UTC
    )
    with pytest.raises(MetadataError, match=r"training_date '2026-01-05T1234561234567' is not in RFC 3339 form"):
        ModelMetadata.from_dict({**data, "training_date": "2026-01-05T1234561234567"})
    with pytest.raises(MetadataError, match="no UTC offset"):
        ModelMetadata.from_dict({**data, "training_date": "2026-01-05T12:30:00"})
