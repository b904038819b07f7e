"""KILT-shaped knowledge-source lines from vendored Wikipedia text.

No real `kilt_knowledgesource.json` lines exist offline (only KILT's empty schema placeholder),
so the demo builds lines in exactly that layout from Wikipedia text it has, and the corpus
reader (`corpus.py`, format `kilt`) is tested on them:

    {_id, wikipedia_id, wikipedia_title, text: [title line, paragraph, ...], anchors,
     categories, wikidata_info, history}

`text[0]` is the title line and every entry ends with "\\n", as in KILT. Sources:
- a SQuAD-format file (`squad.py`): one line per article, its contexts as paragraphs 1..n, the
  `wikipedia_id` its questions' gold points at (`squad:<title>`);
- LLaMA-Factory's `wiki_demo.txt`: one article per line, titles from a vendored TSV
  (`<line number>\\t<title>`, written by reading each line's first sentence), wikipedia_id
  `wiki_demo:<line number>`. The file lost its paragraph breaks: paragraphs ran together with no
  space (`...socialism.Humans lived...`); a break is restored where a sentence end runs straight
  into a capitalised word (`restore_paragraphs`), and the text itself is kept unchanged.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from distilldata.core.errors import InputError
from distilldata.core.store import atomic_path
from distilldata.rag.squad import read_squad

WIKI_DEMO_PREFIX = "wiki_demo:"
# A sentence end (after a lower-case letter, digit or closing bracket) glued to the next
# paragraph's capitalised first word: `socialism.Humans`. `U.S.Army` (capital before the dot)
# and `Ph.D.` do not match.
_GLUED_PARAGRAPH = re.compile(r"(?<=[a-z0-9)\]][.!?])(?=[A-Z][a-z])")


def kilt_record(wikipedia_id: str, title: str, paragraphs: Iterable[str]) -> dict:
    """One knowledge-source line: KILT's fields, the title line first, every entry ending "\\n".

    Fields without a source here (anchors, categories, wikidata, history) hold KILT's empty
    values, as in its schema placeholder."""
    return {
        "_id": wikipedia_id,
        "wikipedia_id": wikipedia_id,
        "wikipedia_title": title,
        "text": [f"{title}\n", *(f"{p}\n" for p in paragraphs)],
        "anchors": [],
        "categories": "",
        "wikidata_info": {
            "description": "",
            "enwikiquote_title": "",
            "wikidata_id": "",
            "wikidata_label": "",
            "wikipedia_title": title,
            "aliases": [],
        },
        "history": {
            "pageid": 0,
            "parentid": 0,
            "revid": 0,
            "pre_dump": True,
            "timestamp": "",
            "url": "",
        },
    }


def squad_kilt_records(path: str | Path) -> Iterator[dict]:
    """One KILT line per article of a SQuAD-format file (paragraph i + 1 = context i)."""
    for article in read_squad(path):
        yield kilt_record(article.wikipedia_id, article.title, article.paragraphs)


def read_titles(path: str | Path) -> dict[int, str]:
    """`<line number>\\t<title>` lines (1-based line numbers of the text file they name)."""
    path = Path(path)
    titles = {}
    for lineno, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        number, sep, title = line.partition("\t")
        if not sep or not number.strip().isdigit() or not title.strip():
            raise InputError(f"{path}:{lineno}: expected '<line number>\\t<title>', got {line!r}")
        titles[int(number)] = title.strip()
    return titles


def restore_paragraphs(text: str) -> list[str]:
    """An article's paragraphs, cut where a sentence end is glued to a capitalised word."""
    pieces = [p.strip() for p in _GLUED_PARAGRAPH.split(text)]
    return [p for p in pieces if p]


def wiki_demo_kilt_records(
    path: str | Path, titles_path: str | Path, restore: bool = True
) -> Iterator[dict]:
    """One KILT line per non-empty line of `wiki_demo.txt`; every line needs a title."""
    path = Path(path)
    titles = read_titles(titles_path)
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            try:
                line = raw.decode("utf-8").strip()
            except UnicodeDecodeError as exc:
                raise InputError(f"{path}:{lineno}: invalid UTF-8 ({exc})") from exc
            if not line:
                continue
            if lineno not in titles:
                raise InputError(
                    f"{path}:{lineno}: no title for this line in {titles_path}; add "
                    f"'{lineno}\\t<title>'"
                )
            paragraphs = restore_paragraphs(line) if restore else [line]
            yield kilt_record(f"{WIKI_DEMO_PREFIX}{lineno}", titles[lineno], paragraphs)


KILT_SOURCE_KINDS = ("squad", "wiki_demo")


def write_kilt_lines(
    kind: str, path: str | Path, output: str | Path, titles: str | Path | None = None
) -> int:
    """Write the KILT-shaped lines of a source as JSONL (one article per line); returns lines."""
    if kind == "squad":
        records = squad_kilt_records(path)
    elif kind == "wiki_demo":
        if titles is None:
            raise InputError("kind wiki_demo needs --titles (the '<line>\\t<title>' TSV)")
        records = wiki_demo_kilt_records(path, titles)
    else:
        raise InputError(f"unknown KILT source kind {kind!r}; choose from {KILT_SOURCE_KINDS}")
    n = 0
    with atomic_path(output) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            n += 1
        if n == 0:
            raise InputError(f"{path}: no articles found")
    return n
