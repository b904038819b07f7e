"""SQuAD-format QA files (SQuAD 2.0, JSQuAD) as Wikipedia articles with gold provenance.

One reading of the file serves both the KILT-shaped knowledge-source lines (`kilt.py`: one
article -> one line, its contexts as paragraphs 1..n after KILT's title line) and the `squad`
query reader (`queries.py`: one query per question, its gold passage in KILT provenance style),
so the gold a question carries always points into the line built from the same article.

- `wikipedia_id` = `squad:<title>` (namespaced: no clash with real KILT ids, which are numbers);
- JSQuAD contexts start with `<title> [SEP] `: the prefix is stripped and answer offsets shifted;
  an answer that lies inside the stripped prefix keeps its text but gets no gold span;
- gold paragraph = context index + 1 (KILT's paragraph 0 is the title line), character offsets
  inside that paragraph.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from distilldata.core.errors import InputError

ID_PREFIX = "squad:"


def squad_wikipedia_id(title: str) -> str:
    """The deterministic document id of a SQuAD-format article (queries' gold and KILT lines)."""
    return f"{ID_PREFIX}{title}"


def strip_title_prefix(context: str, title: str) -> tuple[str, int]:
    """A context without JSQuAD's `<title> [SEP] ` prefix, and how many characters it lost."""
    prefix = f"{title} [SEP] "
    if context.startswith(prefix):
        return context[len(prefix) :], len(prefix)
    return context, 0


@dataclass(frozen=True)
class Gold:
    """A gold passage in KILT provenance style (paragraph ids index the KILT `text` list)."""

    doc_id: str
    start_paragraph: int
    start_character: int
    end_paragraph: int
    end_character: int

    def as_dict(self) -> dict:
        return {
            "doc_id": self.doc_id,
            "start_paragraph": self.start_paragraph,
            "start_character": self.start_character,
            "end_paragraph": self.end_paragraph,
            "end_character": self.end_character,
        }


@dataclass
class SquadQuestion:
    qid: str
    question: str
    answers: list[str]
    gold: list[Gold]
    where: str  # "file: article i, paragraph j, question k", for error messages


@dataclass
class SquadArticle:
    wikipedia_id: str
    title: str
    paragraphs: list[str]  # the contexts, prefix stripped (KILT paragraphs 1..n)
    questions: list[SquadQuestion] = field(default_factory=list)


def answer_gold(
    doc_id: str, paragraph_index: int, context: str, answer: dict, shift: int, where: str
) -> Gold | None:
    """The gold span of one answer inside its (prefix-stripped) context, as KILT provenance.

    None for an answer inside the stripped title prefix; an offset that does not point at the
    answer text is an error (the file is not what it claims to be)."""
    start = int(answer["answer_start"]) - shift
    end = start + len(answer["text"])
    if start < 0:
        return None
    if context[start:end] != answer["text"]:
        raise InputError(
            f"{where}: answer {answer['text']!r} is not at answer_start {answer['answer_start']}; "
            "fix the offset or remove the answer"
        )
    paragraph = paragraph_index + 1
    return Gold(doc_id, paragraph, start, paragraph, end)


def _question(qa: dict, doc_id: str, p_idx: int, context: str, shift: int, where: str):
    answers, gold = [], []
    for answer in qa.get("answers") or []:
        if answer["text"] not in answers:
            answers.append(answer["text"])
        span = answer_gold(doc_id, p_idx, context, answer, shift, where)
        if span is not None and span not in gold:
            gold.append(span)
    return SquadQuestion(str(qa["id"]), qa["question"], answers, gold, where)


def read_squad(path: str | Path) -> Iterator[SquadArticle]:
    """The articles of a SQuAD-format JSON file, in file order, with their questions.

    Unanswerable questions (SQuAD 2.0 `is_impossible`) come with no answers and no gold."""
    path = Path(path)
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))["data"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(
            f"{path}: not a SQuAD-format JSON file ({exc}); expected "
            '{"data": [{"title", "paragraphs": [{"context", "qas"}]}]}'
        ) from exc
    seen: dict[str, int] = {}
    for a_idx, article in enumerate(data):
        title = article["title"]
        if title in seen:
            raise InputError(
                f"{path}: articles {seen[title]} and {a_idx} share the title {title!r}; "
                "titles name documents, make them unique"
            )
        seen[title] = a_idx
        doc_id = squad_wikipedia_id(title)
        out = SquadArticle(doc_id, title, [])
        for p_idx, paragraph in enumerate(article["paragraphs"]):
            context, shift = strip_title_prefix(paragraph["context"], title)
            out.paragraphs.append(context)
            for q_idx, qa in enumerate(paragraph.get("qas", [])):
                where = f"{path}: article {a_idx}, paragraph {p_idx}, question {q_idx}"
                if qa.get("is_impossible"):
                    question = SquadQuestion(str(qa["id"]), qa["question"], [], [], where)
                else:
                    question = _question(qa, doc_id, p_idx, context, shift, where)
                out.questions.append(question)
        yield out
