#!/usr/bin/env python3
"""Writes the conformance scenarios in tests/scenarios/ (the inputs).

The expected snapshots in tests/snapshots/ are recorded from the reference
MemoryDatabase with `UPDATE_SNAPSHOTS=1 cargo test -p flux-capacitor --test scenarios`
and reviewed by hand; this script only writes the inputs. Re-running it is
idempotent.
"""
import json, pathlib

OUT = pathlib.Path(__file__).resolve().parents[2] / "tests" / "scenarios"

NOTES = {"notes": {"key": "id", "fields": {
    "id": "text", "title": "text", "body": "text", "rank": "integer", "score": "real",
    "done": "boolean", "tags": "json", "owner": "text"}}}
COUNTERS = {"counters": {"key": "id", "fields": {"id": "integer", "label": "text", "n": "integer"}}}
TRACKER = {
    "issues": {"key": "id", "fields": {"id": "text", "title": "text", "author": "text",
                                       "priority": "integer", "closed": "boolean"}},
    "users": {"key": "handle", "fields": {"handle": "text", "name": "text"}},
}


def apply(*ops):
    return {"type": "conformance/apply", "payload": {"ops": list(ops)}}


def create(row, coll="notes", **kw):
    return {"op": "create", "collection": coll, "row": row, **kw}


def update(id, patch, coll="notes", **kw):
    return {"op": "update_by_id", "collection": coll, "id": id, "patch": patch, **kw}


def destroy(id, coll="notes"):
    return {"op": "destroy_by_id", "collection": coll, "id": id}


def update_where(filter, patch, coll="notes"):
    return {"op": "update_where", "collection": coll, "filter": filter, "patch": patch}


def destroy_where(filter, coll="notes"):
    return {"op": "destroy_where", "collection": coll, "filter": filter}


def f(op, field=None, value=None, **kw):
    out = {"op": op}
    if field is not None:
        out["field"] = field
    if value is not None:
        out["value"] = value
    out.update(kw)
    return out


def seed_notes():
    """Five notes with a spread of values (and missing fields) for filters."""
    return apply(
        create({"id": "a", "title": "Apple", "rank": 1, "score": 1.5, "done": True, "owner": "mary"}),
        create({"id": "b", "title": "banana", "rank": 5, "score": 2.25, "done": False, "owner": "tony"}),
        create({"id": "c", "title": "Cherry", "rank": 10, "done": False}),
        create({"id": "d", "title": "été", "rank": -3, "score": 0.5, "owner": "mary", "tags": {"k": [1, 2]}}),
        create({"id": "e", "body": "no title, no rank"}),
    )


S = {}
S["create-basic"] = {"description": "create inserts rows; rows are listed in key order, not insertion order",
                     "schema": NOTES, "events": [apply(create({"id": "n2", "title": "Second"})),
                                                 apply(create({"id": "n1", "title": "First", "rank": 1}))]}
S["create-duplicate-key"] = {"description": "create with an existing key is duplicate_key and keeps the first row",
                             "schema": NOTES, "events": [apply(create({"id": "n1", "title": "First"})),
                                                         apply(create({"id": "n1", "title": "Again"}))]}
S["create-missing-key"] = {"description": "a created row without its key field, or with a null key, is missing_key",
                           "schema": NOTES, "events": [apply(create({"title": "No id"})),
                                                       apply(create({"id": None, "title": "Null id"}))]}
S["create-key-type-mismatch"] = {"description": "a key of the wrong type for the key column is type_mismatch",
                                 "schema": COUNTERS, "events": [apply(create({"id": "seven"}, "counters")),
                                                                apply(create({"id": 1.5}, "counters")),
                                                                apply(create({"id": 7, "n": 0}, "counters"))]}
S["create-null-fields-dropped"] = {"description": "null fields of a created row are dropped: null and absent are the same",
                                   "schema": NOTES, "events": [apply(create({"id": "n1", "title": None, "rank": 3}))]}
S["integer-keys-order"] = {"description": "integer keys order numerically, negatives first",
                           "schema": COUNTERS, "events": [apply(create({"id": 10, "n": 1}, "counters"),
                                                                create({"id": 2, "n": 2}, "counters"),
                                                                create({"id": -5, "n": 3}, "counters")),
                                                          apply(update(2, {"label": "two"}, "counters"))]}
S["update-by-id-merge"] = {"description": "update_by_id merges top-level fields and keeps the others",
                           "schema": NOTES, "events": [apply(create({"id": "n1", "title": "Old", "rank": 1, "done": False})),
                                                       apply(update("n1", {"title": "New", "done": True}))]}
S["update-by-id-missing"] = {"description": "update_by_id of an id that matches no row is no change, not an error",
                             "schema": NOTES, "events": [apply(create({"id": "n1", "title": "Only"})),
                                                         apply(update("zzz", {"title": "Ghost"}))]}
S["update-by-id-null-clears"] = {"description": "a null in a patch clears that field",
                                 "schema": NOTES, "events": [apply(create({"id": "n1", "title": "T", "rank": 2, "owner": "mary"})),
                                                             apply(update("n1", {"owner": None, "rank": 4}))]}
S["update-by-id-nested-replace"] = {"description": "a nested object in a patch replaces the field whole (no deep merge)",
                                    "schema": NOTES, "events": [apply(create({"id": "n1", "tags": {"a": {"x": 1, "y": 2}, "b": [1]}})),
                                                                apply(update("n1", {"tags": {"a": {"x": 3}}}))]}
S["update-by-id-key-same-value"] = {"description": "a patch may repeat the row's own key unchanged",
                                    "schema": NOTES, "events": [apply(create({"id": "n1", "title": "T"})),
                                                                apply(update("n1", {"id": "n1", "title": "U"}))]}
S["update-by-id-key-change"] = {"description": "a patch that changes or nulls the key is key_change and writes nothing",
                                "schema": NOTES, "events": [apply(create({"id": "n1", "title": "T"})),
                                                            apply(update("n1", {"id": "n2", "title": "U"})),
                                                            apply(update("n1", {"id": None}))]}
S["update-by-id-empty-patch"] = {"description": "an empty patch changes nothing and is not an error",
                                 "schema": NOTES, "events": [apply(create({"id": "n1", "title": "T"})), apply(update("n1", {}))]}
S["destroy-by-id"] = {"description": "destroy_by_id removes the row; a missing id is no change",
                      "schema": NOTES, "events": [apply(create({"id": "n1"}), create({"id": "n2"})),
                                                  apply(destroy("n1")), apply(destroy("n1")), apply(destroy("nope"))]}
S["update-where-eq"] = {"description": "update_where patches every matching row",
                        "schema": NOTES, "events": [seed_notes(), apply(update_where(f("eq", "owner", "mary"), {"done": True, "body": "mary's"}))]}
S["update-where-key-in-patch"] = {"description": "update_where with the key field in its patch is key_change",
                                  "schema": NOTES, "events": [seed_notes(), apply(update_where(f("eq", "owner", "mary"), {"id": "x"}))]}
S["update-where-filter-before-patch"] = {"description": "update_where selects rows before patching: patching the filtered field does not cascade",
                                         "schema": COUNTERS, "events": [apply(create({"id": 1, "n": 1}, "counters"), create({"id": 2, "n": 2}, "counters")),
                                                                        apply(update_where(f("lt", "n", 2), {"n": 2}, "counters"))]}
S["destroy-where-comparisons"] = {"description": "lt, lte, gt, gte on integers; each event destroys what matched",
                                  "schema": NOTES, "events": [seed_notes(), apply(destroy_where(f("lt", "rank", 0))),
                                                              apply(destroy_where(f("gte", "rank", 10))),
                                                              apply(destroy_where(f("lte", "rank", 1))),
                                                              apply(update_where(f("gt", "rank", 4), {"body": "gt4"}))]}
S["destroy-where-all"] = {"description": "and([]) is true, or([]) is false: destroy_where(or []) keeps all, and([]) removes all",
                          "schema": NOTES, "events": [seed_notes(), apply(destroy_where(f("or", filters=[]))),
                                                      apply(update_where(f("and", filters=[]), {"body": "all"})),
                                                      apply(destroy_where(f("and", filters=[])))]}
S["filter-ne-missing-field"] = {"description": "ne is not(eq): it matches rows where the field is missing",
                                "schema": NOTES, "events": [seed_notes(), apply(update_where(f("ne", "owner", "mary"), {"body": "not mary"}))]}
S["filter-missing-field-comparisons"] = {"description": "eq, lt, gt and in are false on a missing field",
                                         "schema": NOTES, "events": [seed_notes(),
                                                                     apply(update_where(f("lt", "score", 100), {"body": "has score"})),
                                                                     apply(update_where(f("in", "owner", values=["mary", "tony"]), {"title": "owned"}))]}
S["filter-is-null"] = {"description": "is_null matches missing and cleared fields",
                       "schema": NOTES, "events": [seed_notes(), apply(update("a", {"owner": None})),
                                                   apply(update_where(f("is_null", "owner"), {"body": "no owner"}))]}
S["filter-in"] = {"description": "in matches any listed value; in with no values matches nothing",
                  "schema": NOTES, "events": [seed_notes(), apply(update_where(f("in", "rank", values=[1, 10, 99]), {"body": "in"})),
                                              apply(destroy_where(f("in", "rank", values=[])))]}
S["filter-and-or-not"] = {"description": "and, or and not combine (two-valued logic)",
                          "schema": NOTES, "events": [seed_notes(), apply(update_where(
                              f("or", filters=[f("and", filters=[f("eq", "owner", "mary"), f("gt", "rank", 0)]),
                                               f("not", filter=f("lt", "rank", 100))]), {"body": "picked"}))]}
S["filter-number-vs-string"] = {"description": "values of different types never match: 5 is not \"5\"",
                                "schema": NOTES, "events": [seed_notes(),
                                                            apply(update_where(f("eq", "title", 5), {"body": "num"})),
                                                            apply(update_where(f("gt", "title", 0), {"body": "num"})),
                                                            apply(update_where(f("eq", "rank", "5"), {"body": "str"})),
                                                            apply(update_where(f("ne", "rank", "5"), {"owner": "ne-str"}))]}
S["filter-int-float"] = {"description": "numbers compare by value: 5 == 5.0, 2 > 1.5",
                         "schema": NOTES, "events": [seed_notes(), apply(update_where(f("eq", "rank", 5.0), {"body": "five"})),
                                                     apply(update_where(f("gt", "score", 2), {"title": "big score"}))]}
S["filter-string-order-binary"] = {"description": "strings compare by code point: case-sensitive, 'B' < 'a' < 'é'",
                                   "schema": NOTES, "events": [seed_notes(), apply(update_where(f("lt", "title", "a"), {"body": "upper"})),
                                                               apply(update_where(f("gt", "title", "z"), {"body": "beyond z"})),
                                                               apply(update_where(f("eq", "title", "apple"), {"body": "case"}))]}
S["filter-bool"] = {"description": "booleans compare with eq/ne; false < true",
                    "schema": NOTES, "events": [seed_notes(), apply(update_where(f("eq", "done", False), {"body": "open"})),
                                                apply(update_where(f("gt", "done", False), {"title": "closed"}))]}
S["filter-invalid-values"] = {"description": "comparing with null, an array or an object is invalid_filter; filtering a json field too",
                              "schema": NOTES, "events": [seed_notes(), apply(destroy_where(f("eq", "title", None) | {"value": None})),
                                                          apply(destroy_where(f("eq", "title", ["a"]))),
                                                          apply(destroy_where(f("in", "title", values=[{"a": 1}]))),
                                                          apply(destroy_where(f("eq", "tags", "x")))]}
S["unknown-collection"] = {"description": "writing to a collection that is not in the schema is unknown_collection",
                           "schema": NOTES, "events": [apply(create({"id": "x"}, "nope")), apply(destroy("x", "nope"))]}
S["unknown-field"] = {"description": "an unknown field in a row, a patch or a filter is unknown_field",
                      "schema": NOTES, "events": [apply(create({"id": "n1", "colour": "red"})),
                                                  apply(create({"id": "n1"})),
                                                  apply(update("n1", {"colour": "red"})),
                                                  apply(destroy_where(f("eq", "colour", "red")))]}
S["type-mismatch"] = {"description": "a value that does not fit its column's type is type_mismatch; nulls fit every type",
                      "schema": NOTES, "events": [apply(create({"id": "n1", "rank": "high"})),
                                                  apply(create({"id": "n1", "rank": 1.5})),
                                                  apply(create({"id": "n1", "done": 1})),
                                                  apply(create({"id": "n1", "rank": None, "score": 3})),
                                                  apply(update("n1", {"title": True})),
                                                  apply(update(1, {"title": "x"}))]}
S["key-field-mismatch"] = {"description": "an operation naming another key field than the table's primary key is key_field_mismatch",
                           "schema": NOTES, "events": [apply(create({"id": "n1", "title": "slug"}, key="title"))]}
S["changeset-atomic"] = {"description": "a changeset applies all or nothing: an error in its third operation undoes the first two",
                         "schema": NOTES, "events": [apply(create({"id": "n1", "rank": 1})),
                                                     apply(create({"id": "n2"}), update("n1", {"rank": 2}), create({"id": "n1"})),
                                                     apply(create({"id": "n3"}))]}
S["changeset-order"] = {"description": "operations of one changeset apply in order, each seeing the previous ones",
                        "schema": NOTES, "events": [apply(create({"id": "n1", "rank": 1}), update("n1", {"rank": 2}),
                                                          update_where(f("eq", "rank", 2), {"title": "saw 2"}),
                                                          create({"id": "n2"}), destroy("n2"), create({"id": "n2", "title": "again"}))]}
S["multi-collection"] = {"description": "one changeset may write to several collections",
                         "schema": {**NOTES, **COUNTERS}, "events": [apply(create({"id": "n1"}), create({"id": 1, "n": 1}, "counters"),
                                                                           update(1, {"n": 2}, "counters"))]}
S["reducer-reject"] = {"description": "a reducer that refuses an event writes nothing; the next event goes through",
                       "schema": NOTES, "events": [{"type": "conformance/reject", "payload": {"reason": "no"}},
                                                   apply(create({"id": "n1"}))]}
S["unknown-event-type"] = {"description": "an event no reducer knows is no change, never an error",
                           "schema": TRACKER, "events": [{"type": "somethingElse", "payload": {"x": 1}},
                                                         {"type": "addUser", "payload": {"handle": "mary", "name": "Mary"}}]}
S["tracker-invalid-payload"] = {"description": "a known event type with a payload that does not decode is invalid_payload",
                                "schema": TRACKER, "events": [{"type": "addIssue", "payload": {"id": "1"}},
                                                              {"type": "addIssue", "payload": {"id": "1", "title": "T", "author": "mary"}}]}
S["tracker-flow"] = {"description": "the issue tracker: typed events, combined reducers, a custom key, a two-collection changeset",
                     "schema": TRACKER, "events": [
                         {"type": "addUser", "payload": {"handle": "mary", "name": "Mary"}},
                         {"type": "addUser", "payload": {"handle": "tony", "name": "Tony"}},
                         {"type": "addIssue", "payload": {"id": "1", "title": "Leak", "author": "mary", "priority": 2}},
                         {"type": "addIssue", "payload": {"id": "2", "title": "Noise", "author": "tony"}},
                         {"type": "addIssue", "payload": {"id": "3", "title": "Smell", "author": "mary"}},
                         {"type": "addIssue", "payload": {"id": "3", "title": "Dup", "author": "mary"}},
                         {"type": "renameIssue", "payload": {"id": "2", "title": "Loud noise"}},
                         {"type": "closeIssue", "payload": {"id": "1"}},
                         {"type": "purgeClosed", "payload": {}},
                         {"type": "closeAllBy", "payload": {"author": "tony"}},
                         {"type": "removeUser", "payload": {"handle": "mary"}},
                         {"type": "removeIssue", "payload": {"id": "2"}},
                         {"type": "addIssue", "payload": {"id": "4", "title": "Again", "author": "tony", "priority": 1}}]}

OUT.mkdir(parents=True, exist_ok=True)
for old in OUT.glob("*.json"):
    if old.stem not in S:
        old.unlink()
for name, scenario in S.items():
    (OUT / f"{name}.json").write_text(json.dumps(scenario, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
print(f"{len(S)} scenarios in {OUT.name}/")
