"""The two validators of catalogue documents agree: jsonschema (small documents, and every
explanation) and the compiled one (large documents), on a real cube's root and part and on
each way of breaking them; the compiled one is kept in the cache folder between processes."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import fastjsonschema
import orjson
import pytest

from leafcube.catalogue import CATALOGUE_NAME
from leafcube.catalogue.errors import CatalogueError
from leafcube.catalogue.store import COMPILED_ABOVE, _compiled, _validator, cache_dir, validate

Doc = dict[str, Any]


def first(d: Doc) -> Any:
    return next(iter(d.values()))


def coll(doc: Doc) -> Doc:
    return first(doc["collections"])


def part_ref(doc: Doc) -> Doc:
    return first(coll(doc)["parts"])


def date_entry(doc: Doc) -> Doc:
    return first(doc["dates"])


#: Ways of breaking a root: each edits a copy in place.
ROOT_BREAKS: dict[str, Callable[[Doc], None]] = {
    "format": lambda d: d.update(leafcube="9.9"),
    "no collections": lambda d: d.pop("collections"),
    "extra key": lambda d: d.update(surprise=1),
    "crs a number": lambda d: coll(d).update(crs=3979),
    "no layers": lambda d: coll(d).update(layers={}),
    "partition": lambda d: coll(d).update(partition="decade"),
    "part sha256": lambda d: part_ref(d).update(sha256="not-a-hash"),
    "part count": lambda d: part_ref(d).update(count=-1),
    "part no href": lambda d: part_ref(d).pop("href"),
}

#: Ways of breaking a part.
PART_BREAKS: dict[str, Callable[[Doc], None]] = {
    "no dates": lambda d: d.update(dates={}),  # the schema's allOf [$ref, minProperties]
    "key": lambda d: d.update(part="2023-8"),
    "format": lambda d: d.update(leafcube="1.0"),
    "entry no layers": lambda d: date_entry(d).pop("layers"),
    "entry extra key": lambda d: date_entry(d).update(surprise=True),
    "mosaic a number": lambda d: first(date_entry(d)["layers"]).update(mosaic=7),
    "no tiles": lambda d: first(date_entry(d)["layers"]).update(tiles={}),
}


def compiled_ok(doc: Doc, definition: str | None) -> bool:
    try:
        _compiled(definition)(doc)
    except fastjsonschema.JsonSchemaException:
        return False
    return True


@pytest.fixture(scope="module")
def documents(demo_cube) -> tuple[Doc, Doc]:
    root = orjson.loads((demo_cube / CATALOGUE_NAME).read_bytes())
    part = orjson.loads((demo_cube / part_ref(root)["href"]).read_bytes())
    return root, part


def cases(documents: tuple[Doc, Doc]) -> list[tuple[str, str | None, Doc]]:
    root, part = documents
    out: list[tuple[str, str | None, Doc]] = [("root", None, root), ("part", "part", part)]
    for breaks, definition, doc in ((ROOT_BREAKS, None, root), (PART_BREAKS, "part", part)):
        for name, edit in breaks.items():
            broken = copy.deepcopy(doc)
            edit(broken)
            out.append((name, definition, broken))
    return out


def test_the_validators_agree_on_every_document(documents):
    seen = []
    for name, definition, doc in cases(documents):
        expected = _validator(definition).is_valid(doc)
        assert compiled_ok(doc, definition) == expected, name
        seen.append(expected)
    assert seen[:2] == [True, True] and not any(seen[2:])


@pytest.mark.parametrize("nbytes", [0, COMPILED_ABOVE + 1])
def test_an_invalid_document_is_explained_by_either_path(documents, nbytes):
    _, part = documents
    broken = copy.deepcopy(part)
    PART_BREAKS["no dates"](broken)
    with pytest.raises(CatalogueError, match="part x is not valid at dates: {} should be non"):
        validate(broken, "part", "part x", nbytes)
    validate(part, "part", "part x", nbytes)


@pytest.fixture
def fresh_compiled(tmp_path, monkeypatch):
    """The compiled validators made again, with the cache folder in ``tmp_path``."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    _compiled.cache_clear()
    yield tmp_path / "cache" / "leafcube"
    _compiled.cache_clear()


def judges_every_case(documents: tuple[Doc, Doc]) -> bool:
    return all(
        compiled_ok(doc, definition) == (name in ("root", "part"))
        for name, definition, doc in cases(documents)
    )


def test_the_compiled_validator_is_kept_and_reused(documents, fresh_compiled):
    assert cache_dir() == fresh_compiled
    assert judges_every_case(documents)
    kept = sorted(fresh_compiled.iterdir())
    assert [p.name.split("-")[:2] for p in kept] == [["validator", "part"], ["validator", "root"]]
    inodes = [p.stat().st_ino for p in kept]
    _compiled.cache_clear()  # as in a new process: loaded from the folder, not written again
    assert judges_every_case(documents)
    assert [p.stat().st_ino for p in sorted(fresh_compiled.iterdir())] == inodes


def test_a_damaged_cache_is_rewritten(documents, fresh_compiled):
    assert judges_every_case(documents)
    for p in fresh_compiled.iterdir():
        p.write_bytes(p.read_bytes()[:100])  # truncated
    _compiled.cache_clear()
    assert judges_every_case(documents)
    for p in fresh_compiled.iterdir():
        assert p.stat().st_size > 100


def test_no_cache_folder_to_write_still_validates(documents, tmp_path, monkeypatch):
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "a-file"))
    _compiled.cache_clear()
    try:
        assert judges_every_case(documents)
    finally:
        _compiled.cache_clear()
