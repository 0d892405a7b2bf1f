"""The nesting-depth check that runs before any signature is checked.

It was a regex scan that restarted at every quote of a string that never
closed: quadratic, so 64 KB froze a node for 20 s. The linear check must refuse
exactly what the old definition refused, on valid and invalid text alike.
"""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tagshare.protocol import MAX_MESSAGE_BYTES, MalformedMessage, parse_envelope, parse_json
from tagshare.protocol.encoding import _check_depth

# The definition that was replaced, kept as the reference (quadratic: small inputs only).
_OLD_TOKEN_RE = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)


def old_depth_refuses(text: str, max_depth: int) -> bool:
    depth = 0
    for match in _OLD_TOKEN_RE.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > max_depth:
                return True
        elif token in "]}":
            depth -= 1
    return False


def new_depth_refuses(text: str, max_depth: int) -> bool:
    try:
        _check_depth(text, max_depth)
    except MalformedMessage as error:
        assert str(error) == f"JSON nested deeper than {max_depth} levels"
        return True
    return False


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='ab"\\[]{} ', max_size=8),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(alphabet='k"\\[{', max_size=4), children, max_size=4),
    max_leaves=30,
)
# Text an attacker would write: brackets, quotes and backslashes in any order.
hostile_text = st.text(alphabet='[]{}"\\a,: \n', max_size=80)
depths = st.integers(min_value=0, max_value=6)


@settings(max_examples=400, deadline=None)
@given(value=json_values, max_depth=depths)
def test_depth_check_agrees_with_old_definition_on_valid_json(value: object,
                                                              max_depth: int) -> None:
    text = json.dumps(value)
    assert new_depth_refuses(text, max_depth) == old_depth_refuses(text, max_depth)


@settings(max_examples=1000, deadline=None)
@given(text=hostile_text, max_depth=depths)
def test_depth_check_agrees_with_old_definition_on_any_text(text: str,
                                                            max_depth: int) -> None:
    assert new_depth_refuses(text, max_depth) == old_depth_refuses(text, max_depth)


@pytest.mark.parametrize("text, refused", [
    ('[[["a"]]]', True),
    ('[["[[[[[["]]', False),
    ('"\\"[[[["', False),  # brackets inside a string with escaped quotes
    ('[[ "never closed [[[[', True),  # after an unterminated quote, brackets count
    ('[[ "never closed \\', False),  # a lone trailing backslash
    ("]]]][[[", False),  # closing first: the running depth only reaches 3 - 4 < 3
])
def test_depth_check_examples(text: str, refused: bool) -> None:
    assert new_depth_refuses(text, 2) is refused
    assert old_depth_refuses(text, 2) is refused


def test_the_issue_body_at_the_size_limit_is_refused() -> None:
    """`'[]'*40 + '"' + '\\"'*n`: the quadratic case, now at the full 8 MiB."""
    body = ("[]" * 40 + '"' + '\\"' * ((MAX_MESSAGE_BYTES - 81) // 2)).encode()
    assert len(body) <= MAX_MESSAGE_BYTES
    with pytest.raises(MalformedMessage):
        parse_json(body)
    with pytest.raises(MalformedMessage):
        parse_envelope(body)


@pytest.mark.parametrize("body", [
    b"{" + b'"a":1,' * 1000 + b'"b":1}',  # many members
    b'{"v":[[[[1]]]]}',  # any nesting
])
def test_an_envelope_body_that_cannot_be_one_is_refused_before_parsing(body: bytes) -> None:
    with pytest.raises(MalformedMessage):
        parse_envelope(body)
