"""Pulling people and their taggings from an OSDI server (Action Network, another node).

How a pull works:
1. The source's tags (all, or only those named) and, for each, the ids of the
   people tagged with it, read in full every time: that is how a tagging removed
   at the source is noticed.
2. The source's people changed since the cursor (`modified_date gt '<cursor>'`;
   everyone on the first pull), page by page; with named tags, only people
   carrying one of them. Each page is applied in one transaction by the import's
   rule (csvio.apply_rows): first the person this source's id was mapped to
   before, then email, then phone. The source's id of each person is kept, so a
   rerun changes nothing.
3. People tagged at the source whom this node never pulled are fetched one by one.
4. Taggings: a pulled tag is added to its people here; a tagging this source made
   and that is gone at the source is removed (a tagging the operator made is
   never touched).
5. Only then the cursor moves to the newest `modified_date` seen: a pull that
   fails half-way is simply run again.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar
from urllib.parse import quote

from tagshare.node import csvio, normalize
from tagshare.node import people as people_ops
from tagshare.node.errors import InvalidInput
from tagshare.node.import_rows import Row
from tagshare.node.node import Node
from tagshare.node.osdi import resources
from tagshare.node.osdi.source import Fetch, check_url, href, last_segment, pages, remote_id
from tagshare.node.storage import db
from tagshare.node.storage import osdi as store
from tagshare.node.storage import people as people_store
from tagshare.node.storage.people import PERSON_FIELDS

T = TypeVar("T")
RunDb = Callable[[Callable[[], T]], Awaitable[T]]
Progress = Callable[[int, int | None], None]  # people read so far, people to read if known


async def run_here(work: Callable[[], T]) -> T:
    """Database work on the caller's thread (the CLI)."""
    return work()


@dataclass
class PullReport:
    source: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    tagged: int = 0
    untagged: int = 0
    skipped: list[str] = field(default_factory=list)
    cursor: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "added": self.added, "updated": self.updated,
                "unchanged": self.unchanged, "tagged": self.tagged,
                "untagged": self.untagged, "skipped": len(self.skipped),
                "errors": self.skipped, "cursor": self.cursor}

    def summary(self) -> str:
        return (f"pulled from {self.source}: added {self.added}, updated {self.updated}, "
                f"unchanged {self.unchanged}, tagged {self.tagged}, untagged {self.untagged}, "
                f"skipped {len(self.skipped)}")


async def pull(node: Node, url: str, fetch: Fetch, *, tags: list[str] | None = None,
               since: str | None = None, run_db: RunDb[Any] = run_here,
               progress: Progress = lambda done, total: None) -> PullReport:
    """Copy people and taggings from the OSDI server at `url` into the node."""
    base = check_url(url)
    names = [normalize.normalize_tag(t) for t in tags or []]
    cursor = (normalize.parse_when(since) if since
              else await run_db(lambda: store.source_cursor(node.conn, base)))
    report = PullReport(base)
    tagged = await _source_taggings(fetch, base, names, report)
    if not names:
        for gone in await run_db(lambda: store.pulled_tag_names(node.conn, base)):
            tagged.setdefault(gone, set())
    wanted = set().union(*tagged.values()) if names else None
    params = {"filter": f"modified_date gt '{cursor}'"} if cursor else {}
    total: list[int | None] = [None]
    done = 0
    async for items in pages(fetch, base, "people", params, on_total=partial(
            total.__setitem__, 0)):
        chosen = [p for p in items if wanted is None or remote_id(p) in wanted]
        await run_db(partial(_apply_people, node, base, chosen, report))
        done += len(items)
        progress(done, total[0])
    every = sorted(set().union(*tagged.values()))
    unknown = await run_db(lambda: set(every) - set(store.people_of_source(
        node.conn, base, every)))
    for remote in sorted(unknown):
        person = await fetch(f"{base}/people/{quote(remote, safe='')}")
        await run_db(partial(_apply_people, node, base, [person], report))
    await run_db(lambda: _apply_taggings(node, base, tagged, report))
    await run_db(lambda: _finish(node, base, report, cursor))
    return report


async def _source_taggings(fetch: Fetch, base: str, names: list[str],
                           report: PullReport) -> dict[str, set[str]]:
    """Tag name -> the source's ids of the people carrying it (the named tags, or all)."""
    tagged: dict[str, set[str]] = {}
    async for items in pages(fetch, base, "tags"):
        for tag in items:
            name, tag_id = tag.get("name"), remote_id(tag)
            if not isinstance(name, str) or tag_id is None:
                continue
            try:
                clean = normalize.normalize_tag(name)
            except InvalidInput as exc:
                report.skipped.append(f"tag {name[:60]!r}: {exc}")
                continue
            if names and clean not in names:
                continue
            people: set[str] = tagged.setdefault(clean, set())
            path = f"tags/{quote(tag_id, safe='')}/taggings"
            async for taggings in pages(fetch, base, path):
                people.update(last_segment(link)[:200] for t in taggings
                              if (link := href(t, "osdi:person")))
    for missing in sorted(set(names) - set(tagged)):
        report.skipped.append(f"tag {missing!r}: not found at the source")
    return tagged


def _apply_people(node: Node, base: str, items: list[dict[str, Any]],
                  report: PullReport) -> None:
    """One page of the source's people, in one transaction, by the import's rule."""
    parsed: list[tuple[str, dict[str, str | None], str | None]] = []
    for item in items:
        remote = remote_id(item)
        try:
            if remote is None:
                raise InvalidInput("no identifier and no self link")
            fields = people_ops.clean_fields(resources.person_fields(item), node.region)
            if not any(fields.values()):
                raise InvalidInput("no name, email or phone")
        except InvalidInput as exc:
            report.skipped.append(f"person {str(remote)[:60]}: {exc}")
            continue
        modified = item.get("modified_date")
        parsed.append((remote, fields, modified if isinstance(modified, str) else None))
    if not parsed:
        return
    with db.transaction(node.conn) as conn:
        known = store.people_of_source(conn, base, [remote for remote, _, _ in parsed])
        rows = [Row(line=i, values=tuple(fields.get(f) for f in PERSON_FIELDS), tags=[],
                    uuid=known.get(remote)) for i, (remote, fields, _) in enumerate(parsed)]
        applied, landed = csvio.apply_rows(node, rows)
        store.remember_people(conn, base, [(remote, uuid) for (remote, _, _), uuid
                                           in zip(parsed, landed, strict=True)])
    report.added += applied.added
    report.updated += applied.updated
    report.unchanged += applied.unchanged
    for _, _, modified in parsed:
        report.cursor = _later(report.cursor, modified)


def _later(cursor: str | None, modified: str | None) -> str | None:
    if modified is None:
        return cursor
    try:
        moment = normalize.parse_when(modified)
    except InvalidInput:
        return cursor
    return moment if cursor is None or moment > cursor else cursor


def _apply_taggings(node: Node, base: str, tagged: dict[str, set[str]],
                    report: PullReport) -> None:
    with db.transaction(node.conn) as conn:
        for name, remotes in sorted(tagged.items()):
            now = set(store.people_of_source(conn, base, sorted(remotes)).values())
            before = store.pulled_taggings(conn, base, name)
            tag = people_store.tag_id(conn, name, create=bool(now)) or 0
            made = [p for p in sorted(now - before) if not store.has_tagging(conn, tag, p)]
            report.tagged += people_store.add_taggings(conn, [(tag, p) for p in made])
            gone = sorted(before - now)
            report.untagged += sum(people_store.remove_tagging(conn, tag, p) for p in gone)
            store.forget_taggings(conn, base, name, gone)
            store.remember_taggings(conn, base, name, made)


def _finish(node: Node, base: str, report: PullReport, cursor: str | None) -> None:
    report.cursor = _later(cursor, report.cursor) if cursor else report.cursor
    with db.transaction(node.conn) as conn:
        store.save_cursor(conn, base, report.cursor, normalize.now_iso())
        node.audit("osdi.pull", source=base, added=report.added, updated=report.updated,
                   tagged=report.tagged, untagged=report.untagged,
                   skipped=len(report.skipped))
