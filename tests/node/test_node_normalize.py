"""Normalizing what operators type: emails, phones, amounts, times, tags, ids."""

import re
import time
import uuid
from datetime import timedelta

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tagshare.node import normalize
from tagshare.node.errors import InvalidInput
from tagshare.node.ids import is_uuid, uuid7

# --- emails -------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "expected"), [
    ("ann@example.org", "ann@example.org"),
    ("  Ann.Lee@Example.ORG\t", "Ann.Lee@Example.ORG"),
    ("", None),
    ("   ", None),
    (None, None),
])
def test_email_is_trimmed_and_keeps_its_case(raw, expected):
    assert normalize.normalize_email(raw) == expected


def test_emails_compare_case_insensitively():
    assert normalize.email_key(" Ann@Example.ORG ") == normalize.email_key("ann@example.org")


@pytest.mark.parametrize("raw", [
    "ann", "ann@", "@example.org", "ann@example", "ann lee@example.org",
    "ann@@example.org", "<ann@example.org>", "ann@example.org, bob@example.org",
    "a" * 250 + "@example.org",
])
def test_invalid_email_is_rejected(raw):
    with pytest.raises(InvalidInput, match="invalid email"):
        normalize.normalize_email(raw)


# --- phones -------------------------------------------------------------------


@pytest.mark.parametrize("raw", [
    "(614) 555-0101", "614.555.0101", "+1 614-555-0101", "614-555-0101", "6145550101",
    "1 614 555 0101", " (614)555-0101 ",
])
def test_us_spellings_of_one_number_normalize_to_one_e164(raw):
    assert normalize.normalize_phone(raw) == "+16145550101"


def test_foreign_number_in_international_form():
    assert normalize.normalize_phone("+44 20 7946 0958") == "+442079460958"


def test_default_country_applies_to_national_numbers():
    assert normalize.normalize_phone("020 7946 0958", "GB") == "+442079460958"


@pytest.mark.parametrize("raw", ["", "  ", None])
def test_empty_phone_is_none(raw):
    assert normalize.normalize_phone(raw) is None


@pytest.mark.parametrize("raw", [
    "555-0101", "123-456-7890", "(000) 555-0101", "614555010", "61455501011234",
    "not a phone", "+1 614", "+999 1234",
])
def test_invalid_phone_is_rejected(raw):
    with pytest.raises(InvalidInput, match="invalid phone number"):
        normalize.normalize_phone(raw)


def test_non_ascii_digits_normalize_to_ascii_e164():
    # phonenumbers itself turns Arabic-Indic digits into ASCII; so must we.
    assert normalize.normalize_phone("614555\u0660\u0661\u0660\u0661") == "+16145550101"


def _reference_e164(raw: str, region: str = "US") -> str | None:
    """What phonenumbers alone says: parse, check validity, format."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _ours(raw: str) -> str | None:
    try:
        return normalize.normalize_phone(raw)
    except InvalidInput:
        return None


_random_digits = st.builds(
    lambda plus, digits: plus + digits,
    st.sampled_from(["", "", "+"]),
    st.text(alphabet="0123456789", min_size=10, max_size=12),
)
# NANP-shaped: area code and exchange start with 2-9, so many of these are valid.
_nanp_shaped = st.builds(
    lambda one, area, exchange, line: one + area + exchange + line,
    st.sampled_from(["", "1", "+1", "+", "+11", "1+"]),
    st.from_regex(r"[2-9][0-9]{2}", fullmatch=True),
    st.from_regex(r"[2-9][0-9]{2}", fullmatch=True),
    st.from_regex(r"[0-9]{4}", fullmatch=True),
)


@st.composite
def _punctuated(draw):
    digits = draw(st.one_of(_random_digits, _nanp_shaped))
    separators = draw(st.lists(st.sampled_from(["", "", "", " ", "-", ".", "(", ")", "  "]),
                               min_size=len(digits) + 1, max_size=len(digits) + 1))
    return "".join(sep + digit for sep, digit in zip(separators, digits, strict=False)) \
        + separators[-1]


@settings(max_examples=300, deadline=None, database=None)
@given(_punctuated())
def test_nanp_fast_path_agrees_with_phonenumbers(raw):
    expected = _reference_e164(raw)
    assert _ours(raw) == expected
    fast = normalize._fast_nanp(raw.strip(), "US")
    assert fast is None or fast == expected


def _each_nanp_pattern(region):
    from phonenumbers.phonemetadata import PhoneMetadata
    meta = PhoneMetadata.metadata_for_region(region)
    return [re.compile(desc.national_number_pattern)
            for desc in (meta.fixed_line, meta.mobile, meta.toll_free)
            if desc is not None and desc.national_number_pattern]


@settings(max_examples=300, deadline=None, database=None)
@given(st.sampled_from(["US", "CA", "PR"]),
       st.one_of(st.from_regex(r"[2-9][0-9]{2}[2-9][0-9]{6}", fullmatch=True),
                 st.from_regex(r"8(00|33|44|55|66|77|88)[2-9][0-9]{6}", fullmatch=True),
                 st.text(alphabet="0123456789", min_size=10, max_size=10)))
def test_one_nanp_pattern_matches_what_any_of_the_regions_patterns_match(region, national):
    """The fast path's one pattern per region is its fixed-line, mobile and toll-free
    patterns as alternatives: a full match of it is a full match of one of them."""
    combined = normalize._nanp_pattern(region)
    assert bool(combined.fullmatch(national)) == any(
        p.fullmatch(national) for p in _each_nanp_pattern(region))


def test_a_region_outside_nanp_has_no_fast_pattern():
    assert normalize._nanp_pattern("GB") is None and normalize._nanp_pattern("ZZ") is None


@pytest.mark.parametrize("raw", [
    "+1 614-555-0101", "+16145550101", "+1 (614) 555-0101", "(+1) 614.555.0101",
])
def test_plus_one_numbers_take_the_fast_path(raw):
    assert normalize._fast_nanp(raw, "US") == "+16145550101" == _reference_e164(raw)


@pytest.mark.parametrize("raw", ["+6145550101", "+44 20 7946 0958", "1+6145550101"])
def test_plus_without_country_code_one_is_left_to_phonenumbers(raw):
    assert normalize._fast_nanp(raw, "US") is None


# --- amounts ------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "cents"), [
    ("25.00", 2500), ("25", 2500), ("0.01", 1), (" 7.5 ", 750), ("1,000.00", 100000),
])
def test_amounts_become_integer_cents(raw, cents):
    assert normalize.parse_amount_cents(raw) == cents


@pytest.mark.parametrize("raw", ["abc", "", "-5", "0", "0.00", "1.234", "NaN", "Infinity",
                                 "1e20"])
def test_bad_amounts_are_rejected(raw):
    with pytest.raises(InvalidInput):
        normalize.parse_amount_cents(raw)


def test_absurd_exponent_amount_is_invalid_input():
    with pytest.raises(InvalidInput):
        normalize.parse_amount_cents("1e999999")


def test_vanishing_amount_is_rejected():
    with pytest.raises(InvalidInput):
        normalize.parse_amount_cents("1e-999999999")


def test_format_cents():
    assert normalize.format_cents(2500) == "25.00"
    assert normalize.format_cents(7) == "0.07"


# --- times and durations ------------------------------------------------------


@pytest.mark.parametrize(("raw", "expected"), [
    ("2026-10-03T14:30:00-04:00", "2026-10-03T18:30:00.000Z"),
    ("2026-10-03T18:30:00Z", "2026-10-03T18:30:00.000Z"),
    ("2026-10-03T18:30:00", "2026-10-03T18:30:00.000Z"),
    ("2026-10-03", "2026-10-03T00:00:00.000Z"),
])
def test_times_become_utc(raw, expected):
    assert normalize.parse_when(raw) == expected


@pytest.mark.parametrize("raw", ["yesterday", "", "2026-13-01", "03/10/2026"])
def test_bad_times_are_rejected(raw):
    with pytest.raises(InvalidInput, match="ISO 8601"):
        normalize.parse_when(raw)


def test_time_at_the_edge_of_the_calendar_is_invalid_input():
    with pytest.raises(InvalidInput):
        normalize.parse_when("0001-01-01T00:00:00+01:00")


@pytest.mark.parametrize(("raw", "expected"), [
    ("24h", timedelta(hours=24)), ("14d", timedelta(days=14)), ("30m", timedelta(minutes=30)),
    ("45s", timedelta(seconds=45)), ("2w", timedelta(weeks=2)), (" 3 D ", timedelta(days=3)),
])
def test_durations(raw, expected):
    assert normalize.parse_duration(raw) == expected


@pytest.mark.parametrize("raw", ["", "0h", "h", "24", "1y", "-1d", "1.5h", "abc"])
def test_bad_durations_are_rejected(raw):
    with pytest.raises(InvalidInput, match="invalid duration"):
        normalize.parse_duration(raw)


# --- tags ---------------------------------------------------------------------


def test_tag_is_trimmed():
    assert normalize.normalize_tag("  volunteers ") == "volunteers"


@pytest.mark.parametrize(("raw", "reason"), [
    ("", "empty"), ("   ", "empty"), ("a,b", "comma"), ("x" * 101, "longer"),
    ("tab\there", "control"),
])
def test_bad_tags_are_rejected(raw, reason):
    with pytest.raises(InvalidInput, match=reason):
        normalize.normalize_tag(raw)


# --- uuid7 --------------------------------------------------------------------


def test_uuid7_has_version_and_variant_bits():
    value = uuid.UUID(uuid7())
    assert value.version == 7
    assert value.variant == uuid.RFC_4122


def test_uuid7_carries_the_current_millisecond():
    before = time.time_ns() // 1_000_000
    stamp = uuid.UUID(uuid7()).int >> 80
    after = time.time_ns() // 1_000_000
    # The counter may push the stamp a millisecond or two ahead after a burst.
    assert before <= stamp <= after + 5


def test_successive_uuid7_are_sorted_and_unique():
    ids = [uuid7() for _ in range(10_000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(is_uuid(i) and uuid.UUID(i).version == 7 for i in ids)


@pytest.mark.parametrize(("text", "expected"), [
    ("0190a5b2-7c1e-7abc-8def-0123456789ab", True),
    ("0190a5b27c1e7abc8def0123456789ab", False),
    ("not-a-uuid", False),
    ("", False),
])
def test_is_uuid(text, expected):
    assert is_uuid(text) is expected


@given(st.lists(st.text(alphabet=st.sampled_from('ab ,"\'\u201c\u201d\u2019'), max_size=12),
                max_size=6))
def test_no_tag_from_a_tag_list_carries_a_stray_quote(pieces):
    for piece in ",".join(pieces).split(","):
        try:
            tag = normalize.listed_tag(piece)
        except InvalidInput as exc:  # only a rule other than quotes may refuse a piece
            assert "quote" not in str(exc)
            continue
        if tag is not None:
            assert not any(q in tag for q in '"\u201c\u201d')
            assert tag[0] not in "'\u2019" and tag[-1] not in "'\u2019"
            assert tag == tag.strip()
