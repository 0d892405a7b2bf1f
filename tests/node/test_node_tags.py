"""Tag names and tag counts: what `tag add` says is what it did, and no tag name carries
a stray quote character."""

from __future__ import annotations

import pytest

from tagshare.node.node import open_node
from tagshare.node.normalize import now_iso
from tagshare.node.storage import db
from tagshare.node.storage import peers as peers_store


def granted_and_accepted(node, tag: str) -> None:
    """A real `share grant` of `tag` to a paired peer, then the peer's accept (written
    directly: no second node needed), so the outbox triggers fire on `tag`."""
    opened = open_node(node.home)
    try:
        with db.transaction(opened.conn) as conn:
            peers_store.upsert_peer(conn, {
                "node_id": "UklWRVJBUklWRVJBUklWRVJBUklWRVJBUklWRVJBUkk",  # a grant names it
                "name": "Rivera Campaign", "alias": None,
                "url": "http://127.0.0.1:1", "box_key": "-", "document": "{}",
                "auto_accept": 0, "added_at": now_iso()})
    finally:
        opened.close()
    node.ok("share", "grant", "--tag", tag, "--to", "Rivera Campaign", "--fields", "all")
    with node.db() as conn:
        conn.execute("UPDATE shares SET status = 'active' WHERE direction = 'outgoing'")
        conn.commit()


def test_tag_add_on_a_shared_tag_counts_taggings_not_trigger_rows(node):
    granted_and_accepted(node, "volunteers")
    ann = node.add("--first-name", "Ann")
    assert node.ok("tag", "add", ann, "volunteers").stdout.strip() == f"{ann}: 1 tag(s) added"
    with node.db() as conn:  # the triggers did fire: the share owes the subscriber Ann
        assert [r[0] for r in conn.execute("SELECT person FROM pending")] == [ann]
    assert node.ok("tag", "add", ann, "volunteers", "canvass").stdout.strip() \
        == f"{ann}: 1 tag(s) added"
    assert node.ok("tag", "add", ann, "volunteers").stdout.strip() == f"{ann}: 0 tag(s) added"


@pytest.mark.parametrize("name", ['"host', 'events"', 'say "hi"', "'host", "events'",
                                  "\u201chost\u201d"])
def test_a_tag_name_with_a_stray_quote_is_refused_everywhere(node, tmp_path, name):
    ann = node.add("--first-name", "Ann", "--email", "ann@example.org")
    assert "quote" in node.fails("tag", "add", ann, name)
    assert "quote" in node.fails("people", "add", "--first-name", "Bo", "--tag", name)
    path = tmp_path / "p.csv"
    path.write_text("first_name\nCy\n")
    assert "quote" in node.fails("people", "import", str(path), "--tag", name)
    assert [t["name"] for t in node.json("tag", "list")] == []
    assert node.json("status")["people"] == 1


def test_an_apostrophe_inside_a_tag_name_is_a_letter(node):
    ann = node.add("--first-name", "Ann", "--tag", "women's caucus")
    node.ok("tag", "add", ann, "o'brien-volunteers")
    assert node.json("people", "show", ann)["tags"] == ["o'brien-volunteers", "women's caucus"]


def test_a_quoted_group_in_a_tag_list_splits_cleanly(node, tmp_path):
    path = tmp_path / "nb.csv"
    path.write_text(
        "first_name,email,tag_list\n"
        'Ann,ann@example.org,"volunteer, ""host, events"""\n'
        "Bo,bo@example.org,\"'phone bank', \u201cdoor knock\u201d, women's caucus\"\n"
        'Cy,cy@example.org,"""""  ,, "" a ""b"" c"\n')
    assert node.ok("people", "import", str(path)).stdout.strip().startswith("added 3,")
    tags = {p["first_name"]: p["tags"] for p in node.json("people", "list")}
    assert tags == {"Ann": ["events", "host", "volunteer"],
                    "Bo": ["door knock", "phone bank", "women's caucus"],
                    "Cy": ["a b c"]}
    assert all(not any(q in t["name"] for q in "\"\u201c\u201d")
               for t in node.json("tag", "list"))


def test_a_stray_quote_tag_from_before_the_rule_can_still_be_removed(node):
    ann = node.add("--first-name", "Ann")
    with node.db() as conn:
        conn.execute("INSERT INTO tags (name) VALUES ('\"host')")
        conn.execute("INSERT INTO taggings (tag, person) SELECT id, ? FROM tags", (ann,))
        conn.commit()
    assert node.ok("tag", "remove", ann, '"host').stdout.strip() == f"{ann}: 1 tag(s) removed"
    assert node.json("people", "show", ann)["tags"] == []
