"""The TinyDB search index in memory: prefixes, holes and their compaction, the cache's budget."""

from __future__ import annotations

from BackEnd.search_text import parse_query
from BackEnd.storage.tiny_search import Entry, SearchCache, SearchChanges, UserIndex


def entry(number: int, conversation: str = "conv_a") -> Entry:
    return Entry(f"2026-01-01T00:00:00.{number:06d}Z", f"msg_{number:06d}", conversation, f"msg_{number:06d}")


def keys(index: UserIndex, query: str, limit: int = 10_000) -> list[str]:
    return [found.key for found in index.search(parse_query(query), limit=limit, offset=0, text_of=str).items]


def test_removed_entries_are_skipped_then_compacted_away() -> None:
    index = UserIndex.built([(entry(n, f"conv_{n % 2}"), {f"mot{n % 3}", "commun"}) for n in range(3000)])
    index.remove_conversation("conv_0", keep_title=False)
    for n in range(1, 1000, 2):
        index.remove(f"msg_{n:06d}")

    remaining = [f"msg_{n:06d}" for n in range(2999, 999, -2)]
    assert keys(index, "commun") == remaining
    assert keys(index, "mot1") == [key for key in remaining if int(key[4:]) % 3 == 1]
    assert index.size < UserIndex.built([(entry(n), {"mot", "commun"}) for n in range(3000)]).size


def test_add_replaces_an_entry_with_the_same_key() -> None:
    index = UserIndex()
    index.add(entry(1), "ancien")
    index.add(entry(1), "nouveau")
    assert keys(index, "ancien") == [] and keys(index, "nouv") == ["msg_000001"]


def test_the_cache_drops_the_least_recently_used_beyond_its_budget() -> None:
    built: list[str] = []

    def build(user: str) -> UserIndex:
        built.append(user)
        return UserIndex.built([(entry(n), {"mot"}) for n in range(100)])

    one = build("probe").size
    cache = SearchCache(max_bytes=2 * one)
    for user in ("a", "b", "a", "c", "a", "b"):
        cache.get(user, lambda user=user: build(user))  # type: ignore[misc]
    assert built == ["probe", "a", "b", "c", "b"]

    changes = SearchChanges()
    changes.add("b", lambda index: index.add(entry(500), "ajout"))
    changes.add("c", lambda index: index.add(entry(501), "ajout"))  # not in memory: built later
    cache.apply(changes)
    assert keys(cache.get("b", lambda: build("b")), "ajout") == ["msg_000500"]
    assert built[-1] == "b"  # b was kept up to date, not built again


def test_a_word_of_one_entry_grows_to_several_and_back() -> None:
    index = UserIndex.built([(entry(n), {"commun", f"seul{n:04d}"}) for n in range(1500)])
    index.add(entry(2000), "seul0007 nouveau")  # from one entry's number to an array of two
    assert keys(index, "seul0007") == ["msg_002000", "msg_000007"]
    assert keys(index, "nouveau") == ["msg_002000"]

    for n in range(1100):  # past 1,000 holes and half the entries: compacted
        index.remove(f"msg_{n:06d}")

    assert keys(index, "seul0007") == ["msg_002000"]
    assert keys(index, "seul14") == [f"msg_{n:06d}" for n in range(1499, 1399, -1)]
    assert keys(index, "seul1") == [f"msg_{n:06d}" for n in range(1499, 1099, -1)]
    assert len(keys(index, "commun")) == 400
    index.add(entry(2001), "seul0007")
    assert keys(index, "seul0007") == ["msg_002001", "msg_002000"]
