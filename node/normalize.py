"""Normalizing what people type: emails, phone numbers, tags, money, times.

Emails are trimmed and compared case-insensitively. Phones become E.164 with
the node's default country, using the phonenumbers library; a fast path for
plain North American numbers checks them against the same library's metadata
patterns, because a million-row import cannot afford 25 us of parsing a row.
"""

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

import phonenumbers
from phonenumbers.phonemetadata import PhoneMetadata

from tagshare.node.errors import InvalidInput

_EMAIL = re.compile(r"^[^@\s<>(),;:\"\[\]]+@[^@\s<>(),;:\"\[\]]+\.[^@\s<>(),;:\"\[\]]+$")
_PHONE_PUNCTUATION = re.compile(r"[\s().\-]")
# Optionally "+1" or "1" before the ten digits: "+1 614-555-0101" is as plain as
# "(614) 555-0101"; a "+" before anything but country code 1 takes the slow path.
_NANP_DIGITS = re.compile(r"(?:\+1|1)?([0-9]{10})")
_MAX_TAG = 100
MAX_FIELD = 500  # the longest person field (name, address, email, phone) taken
MAX_TAG = _MAX_TAG  # the longest tag name
_DOUBLE_QUOTES = '"\u201c\u201d\u201e\u201f'
_QUOTES = _DOUBLE_QUOTES + "'\u2018\u2019"
_NO_DOUBLE_QUOTES = str.maketrans("", "", _DOUBLE_QUOTES)
_STRAY = _QUOTES + " \t"  # what a tag list's piece sheds at its ends


def normalize_email(raw: str | None) -> str | None:
    """Trimmed email, or None for empty; raises InvalidInput if it is not an address."""
    if raw is None:
        return None
    text = raw.strip()
    if not text:
        return None
    if len(text) > 254 or not _EMAIL.match(text):
        raise InvalidInput(f"invalid email {raw!r}: expected something like name@example.org")
    return text


def email_key(email: str) -> str:
    """The form two emails are compared in."""
    return email.strip().lower()


def _nanp_pattern(region: str) -> re.Pattern[str] | None:
    """One pattern for the region's fixed-line, mobile and toll-free numbers (each its
    own alternative: a full match of one is a full match of the whole)."""
    meta = PhoneMetadata.metadata_for_region(region)
    if meta is None or meta.country_code != 1:
        return None
    patterns = [desc.national_number_pattern
                for desc in (meta.fixed_line, meta.mobile, meta.toll_free)
                if desc is not None and desc.national_number_pattern]
    return re.compile("|".join(f"(?:{p})" for p in patterns)) if patterns else None


_PATTERN_CACHE: dict[str, re.Pattern[str] | None] = {}


def _fast_nanp(raw: str, region: str) -> str | None:
    """E.164 for a plain 10-digit (or 1 / +1 + 10-digit) number valid in `region`, else None."""
    if region not in _PATTERN_CACHE:
        _PATTERN_CACHE[region] = _nanp_pattern(region)
    pattern = _PATTERN_CACHE[region]
    if pattern is None:
        return None
    match = _NANP_DIGITS.fullmatch(_PHONE_PUNCTUATION.sub("", raw))
    if match is None:
        return None
    national = match.group(1)
    if pattern.fullmatch(national):
        return "+1" + national
    return None


def normalize_phone(raw: str | None, region: str = "US") -> str | None:
    """E.164 form of a phone number, or None for empty; InvalidInput if it is not valid."""
    if raw is None:
        return None
    text = raw.strip()
    if not text:
        return None
    fast = _fast_nanp(text, region)
    if fast is not None:
        return fast
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise InvalidInput(
            f"invalid phone number {raw!r} (default country {region}): "
            "give a full number such as (614) 555-0101 or +44 20 7946 0958"
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_tag(raw: str) -> str:
    """A tag name: trimmed, non-empty, no commas (CSV tag lists split on them), and no
    quote character that could be a stray piece of a quoted group: no double quote
    anywhere, no single quote at either end (an apostrophe inside, as in
    women's-caucus, is a letter)."""
    text = existing_tag(raw)
    if any(ch in _DOUBLE_QUOTES for ch in text) or text[0] in _QUOTES or text[-1] in _QUOTES:
        raise InvalidInput(
            f"tag {raw!r} contains a quote character: tag names carry no quotes "
            "(give the name without them)")
    return text


def existing_tag(raw: str) -> str:
    """A tag name to look up (e.g. to remove it): normalize_tag without the quote rule,
    so that a tag stored before that rule can still be named."""
    text = raw.strip()
    if not text:
        raise InvalidInput("empty tag name: give a tag such as volunteers")
    if "," in text:
        raise InvalidInput(f"tag {raw!r} contains a comma: tags cannot contain commas")
    if len(text) > _MAX_TAG:
        raise InvalidInput(f"tag {raw[:20]!r}... is longer than {_MAX_TAG} characters")
    if any(ord(ch) < 32 for ch in text):
        raise InvalidInput(f"tag {raw!r} contains control characters")
    return text


def listed_tag(piece: str) -> str | None:
    """One comma-separated piece of a CSV tag list (`volunteer, "host, events"`) as a tag
    name, or None for an empty piece. Quotes in a tag list only group, and the list is
    split on every comma, quoted or not: the quotes at the piece's ends and any double
    quote inside it are dropped, so that list gives volunteer, host and events."""
    text = piece.strip(_STRAY).translate(_NO_DOUBLE_QUOTES).strip(_STRAY)
    return normalize_tag(text) if text else None


def parse_amount_cents(raw: str) -> int:
    """'25.00' -> 2500. Rejects non-numbers, negatives, and fractions of a cent."""
    try:
        value = Decimal(raw.strip().replace(",", ""))
    except InvalidOperation:
        raise InvalidInput(f"amount {raw!r} is not a number: give it like 25.00") from None
    if not value.is_finite() or value <= 0:
        raise InvalidInput(f"amount {raw!r} must be a positive number such as 25.00")
    if value > 10**11:
        raise InvalidInput(f"amount {raw!r} is too large")
    cents = value * 100
    if cents != cents.to_integral_value() or cents < 1:
        raise InvalidInput(f"amount {raw!r} has fractions of a cent")
    return int(cents)


def format_cents(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def now_iso() -> str:
    return iso(datetime.now(UTC))


def iso(moment: datetime) -> str:
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_when(raw: str) -> str:
    """An ISO 8601 time from the operator, as a UTC timestamp string."""
    text = raw.strip()
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            f"invalid time {raw!r}: use ISO 8601, e.g. 2026-10-03T14:30:00-04:00"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return iso(moment)
    except OverflowError:
        raise InvalidInput(f"time {raw!r} is outside the years 1 to 9999") from None


_DURATION = re.compile(r"^(\d+)\s*([smhdw])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(raw: str) -> timedelta:
    """'24h', '14d', '90m' -> timedelta."""
    match = _DURATION.match(raw.strip().lower())
    if match is None or int(match.group(1)) == 0:
        raise InvalidInput(f"invalid duration {raw!r}: use a number and a unit, e.g. 24h, 14d, 30m")
    return timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])
