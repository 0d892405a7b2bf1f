"""Import rows: cleaning one CSV row into checked person fields, and spotting rows that
may repeat an earlier one (email, phone, or name and address) in bounded memory."""

from dataclasses import dataclass, field

from tagshare.node import normalize
from tagshare.node.errors import InvalidInput
from tagshare.node.ids import is_uuid
from tagshare.node.normalize import MAX_FIELD
from tagshare.node.storage.columns import PERSON_FIELDS


@dataclass
class Row:
    line: int
    values: tuple[str | None, ...]  # PERSON_FIELDS, in that order
    tags: list[str]
    uuid: str | None
    fields: dict[str, str | None] = field(default_factory=dict)  # filled by the matching path


_PLAIN, _EMAIL, _PHONE = 0, 1, 2
_FIELD_INDEX = {name: i for i, name in enumerate(PERSON_FIELDS)}


class RowCleaner:
    """One CSV row's cells to checked person fields, tags and uuid.

    The same rules, messages and order of checks as people.clean_fields on the
    row's columns in header order (a phone taken from mobile_number, when there
    is no phone column, is checked last), without building a dict per row.
    """

    _TAG_CACHE_MAX = 10_000

    def __init__(self, mapping: dict[int, str], region: str, extra_tags: list[str]) -> None:
        self.region = region
        self.extra_tags = tuple(extra_tags)
        by_target = {target: index for index, target in mapping.items()}
        self.uuid = by_target.get("uuid", -1)
        self.tags = by_target.get("tags", -1)
        self.mobile = by_target.get("mobile", -1)
        self.phone = by_target.get("phone", -1)
        order: list[tuple[str, int, int, int]] = []
        for index, target in sorted(mapping.items()):
            if target in _FIELD_INDEX:
                kind = {"email": _EMAIL, "phone": _PHONE}.get(target, _PLAIN)
                order.append((target, _FIELD_INDEX[target], index, kind))
        if self.phone < 0 and self.mobile >= 0:
            order.append(("phone", _FIELD_INDEX["phone"], -1, _PHONE))
        self.order = order
        self.plain = [(position, index) for _, position, index, kind in order
                      if kind == _PLAIN]
        self.checked = [(position, index, kind) for _, position, index, kind in order
                        if kind != _PLAIN]  # email and phone, in header order
        self.width = len(PERSON_FIELDS)
        self.tag_cache: dict[str, str] = {}
        self.row_tags: dict[str, tuple[str, ...]] = {}

    def clean(self, cells: list[str]) -> tuple[str | None, list[str | None], tuple[str, ...]]:
        """The row's uuid (None if it gives none), its values in PERSON_FIELDS order and
        its tags with the extra ones, or InvalidInput with the reason it is bad. Rows
        with the same tags cell get the same tuple of tags (one object to send)."""
        uuid: str | None = None
        if self.uuid >= 0:
            uuid = cells[self.uuid].strip().lower() or None
            if uuid is not None and not is_uuid(uuid):
                raise InvalidInput(f"uuid {uuid!r} is not a uuid")
        if len("".join(cells)) > MAX_FIELD and max(map(len, cells)) > MAX_FIELD:
            values = self._values_in_order(cells)
        else:  # no cell too long: only emails and phones are left to check (the same result)
            values = [None] * self.width
            for position, index in self.plain:
                values[position] = cells[index].strip() or None
            for position, index, kind in self.checked:
                if kind == _EMAIL:
                    values[position] = normalize.normalize_email(cells[index])
                else:
                    values[position] = normalize.normalize_phone(self._phone(cells, index),
                                                                 self.region)
        tags = self._row_tags(cells[self.tags]) if self.tags >= 0 else self.extra_tags
        if not any(values):
            raise InvalidInput("row has no name, email or phone")
        return uuid, values, tags

    def _values_in_order(self, cells: list[str]) -> list[str | None]:
        """Each field checked in header order, lengths too: the first bad one raises."""
        values: list[str | None] = [None] * self.width
        for name, position, index, kind in self.order:
            value = cells[index] if kind != _PHONE else self._phone(cells, index)
            if len(value) > MAX_FIELD:
                raise InvalidInput(f"{name} is longer than {MAX_FIELD} characters")
            if kind == _PLAIN:
                values[position] = value.strip() or None
            elif kind == _EMAIL:
                values[position] = normalize.normalize_email(value)
            else:
                values[position] = normalize.normalize_phone(value, self.region)
        return values

    def _phone(self, cells: list[str], index: int) -> str:
        """The phone cell, or the mobile one where it is blank (index -1: no phone column)."""
        value = cells[index] if index >= 0 else ""
        if self.mobile >= 0 and not value.strip():
            mobile = cells[self.mobile]
            if mobile.strip():
                value = mobile
        return value

    def _row_tags(self, text: str) -> tuple[str, ...]:
        tags = self.row_tags.get(text)
        if tags is None:
            tags = (*self._tags(text), *self.extra_tags)
            if len(self.row_tags) < self._TAG_CACHE_MAX:
                self.row_tags[text] = tags
        return tags

    def _tags(self, text: str) -> list[str]:
        if not text:
            return []
        cache = self.tag_cache
        tags = []
        for raw in text.split(","):
            tag = cache.get(raw)
            if tag is None:
                tag = normalize.listed_tag(raw)
                if tag is None:
                    continue
                if len(cache) < self._TAG_CACHE_MAX:
                    cache[raw] = tag
            tags.append(tag)
        return tags


class KeySet:
    """A set of 64-bit hashes in one flat table: 8 to 16 bytes a key where a Python
    set of ints takes about 75. `add` says whether the key may have been added
    before (a repeat, or a 1 in 2**64 collision: either way the caller plays safe).
    """

    def __init__(self, bits: int = 16) -> None:
        self._allocate(bits)

    def _allocate(self, bits: int) -> None:
        self.mask = (1 << bits) - 1
        self.table = memoryview(bytearray(8 << bits)).cast("Q")
        self.size = 0
        self.limit = (self.mask + 1) // 2

    def add(self, key: object) -> bool:
        h = hash(key) & 0xFFFF_FFFF_FFFF_FFFF or 1
        table, mask = self.table, self.mask
        i = h & mask
        while True:
            found = table[i]
            if found == 0:
                table[i] = h
                self.size += 1
                if self.size > self.limit:
                    self._grow()
                return False
            if found == h:
                return True
            i = (i + 1) & mask

    def _grow(self) -> None:
        old = [h for h in self.table if h]
        self._allocate(self.mask.bit_length() + 1)
        table, mask = self.table, self.mask
        for h in old:
            i = h & mask
            while table[i]:
                i = (i + 1) & mask
            table[i] = h
        self.size = len(old)




class FirstLines:
    """The first line each key was seen on, in one flat table of 64-bit hashes and one of
    32-bit line numbers (12 to 24 bytes a key where a dict of strings takes over 100), so
    that a million-row import can name the earlier line of a repeated email. Two keys
    with one hash (1 in 2**64) read as a repeat: the caller confirms one before acting.
    """

    def __init__(self, bits: int = 16) -> None:
        self._allocate(bits)

    def _allocate(self, bits: int) -> None:
        self.mask = (1 << bits) - 1
        self.hashes = memoryview(bytearray(8 << bits)).cast("Q")
        self.lines = memoryview(bytearray(4 << bits)).cast("I")
        self.size = 0
        self.limit = (self.mask + 1) // 2

    def first(self, key: object, line: int) -> int:
        """The line `key` was first seen on; `line` (now recorded) if it is new."""
        h = hash(key) & 0xFFFF_FFFF_FFFF_FFFF or 1
        hashes, mask = self.hashes, self.mask
        i = h & mask
        while True:
            found = hashes[i]
            if found == 0:
                hashes[i] = h
                self.lines[i] = line
                self.size += 1
                if self.size > self.limit:
                    self._grow()
                return line
            if found == h:
                return int(self.lines[i])
            i = (i + 1) & mask

    def _grow(self) -> None:
        old_hashes, old_lines, size = self.hashes, self.lines, self.size
        self._allocate(self.mask.bit_length() + 1)
        hashes, lines, mask = self.hashes, self.lines, self.mask
        for j, h in enumerate(old_hashes):
            if h:
                i = h & mask
                while hashes[i]:
                    i = (i + 1) & mask
                hashes[i] = h
                lines[i] = old_lines[j]
        self.size = size
