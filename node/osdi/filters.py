"""OSDI's OData-style `filter` parameter, the few forms this node answers.

Only these are accepted, whole: `modified_date gt '<time>'`, `modified_date lt '<time>'`
(also `created_date`), and `email_address eq '<email>'`. Anything else is refused;
the result is a checked (field, operator, value) triple that storage binds as a
parameter, so no text of the filter ever reaches SQL.
"""

import re

from tagshare.node import normalize
from tagshare.node.errors import InvalidInput
from tagshare.node.storage.osdi import PeopleFilter

MAX_FILTER = 300
_FORM = re.compile(r"\s*(modified_date|created_date|email_address)\s+(gt|lt|eq)\s+"
                   r"'([^'\\]{1,254})'\s*")
_ALLOWED = {"modified_date": ("gt", "lt"), "created_date": ("gt", "lt"),
            "email_address": ("eq",)}


def parse_filter(raw: str | None) -> PeopleFilter | None:
    if raw is None or not raw.strip():
        return None
    if len(raw) > MAX_FILTER:
        raise InvalidInput(f"filter is longer than {MAX_FILTER} characters")
    match = _FORM.fullmatch(raw)
    if match is None or match.group(2) not in _ALLOWED[match.group(1)]:
        raise InvalidInput(
            "unsupported filter: use modified_date gt '2026-01-01', modified_date lt "
            "'...', created_date gt|lt '...' or email_address eq 'name@example.org'")
    field, operator, value = match.groups()
    if field == "email_address":
        email = normalize.normalize_email(value)
        assert email is not None  # the pattern needs at least one character
        return field, operator, email
    return field, operator, normalize.parse_when(value)
