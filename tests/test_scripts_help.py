"""Every script documents every flag: `--help` works and lists no argument without help text."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from conftest import REPO, offline_env

SCRIPTS = sorted(p for p in (REPO / "scripts").rglob("*.py") if p.name != "__init__.py")
ENTRY = re.compile(r"^  (\S.*)$")  # an argument's first line in argparse's help
HELP_COLUMN = " " * 10  # argparse indents help text that wraps onto its own line


def undocumented(help_text: str) -> list[str]:
    """Arguments whose entry in `--help` has no text after the flag and metavar."""
    lines = help_text.splitlines()
    starts = [i for i, line in enumerate(lines) if line in ("positional arguments:", "options:")]
    lines = lines[min(starts) :]  # the usage line and the description come before
    bare = []
    for i, line in enumerate(lines):
        entry = ENTRY.match(line)
        if not entry:
            continue
        has_inline_help = re.search(r"\S\s{2,}\S", entry.group(1)) is not None
        next_line = lines[i + 1] if i + 1 < len(lines) else ""
        if not has_inline_help and not next_line.startswith(HELP_COLUMN):
            bare.append(entry.group(1).split()[0].rstrip(","))
    return bare


def test_undocumented_finds_a_flag_without_help():
    import argparse

    p = argparse.ArgumentParser(formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--with-help", help="text")
    p.add_argument("--a-rather-long-flag-name-with-help", metavar="VALUE", help="text")
    p.add_argument("--bare")
    p.add_argument("positional")
    assert undocumented(p.format_help()) == ["positional", "--bare"]


@pytest.mark.parametrize(
    "script", SCRIPTS, ids=lambda p: p.relative_to(REPO / "scripts").as_posix()
)
def test_help_lists_every_flag_with_its_text(script):
    proc = subprocess.run(
        [sys.executable, str(script), "--help"],
        capture_output=True,
        text=True,
        env=offline_env(),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert undocumented(proc.stdout) == []


# Each pipeline's scripts form a family: the distilled-SFT, RAG and NLL scripts (scripts/sft/,
# scripts/rag/, scripts/nll/) take their seeds' snake_case flags (--max_records, --top_k_retrieval);
# the other families take kebab-case (--dataset-path). An argument may also offer the other
# spelling as an alias.
SNAKE_CASE_FAMILIES = {"sft", "rag", "nll"}
SHARED_FLAGS = {"--log-level", "--help"}  # script_parser's, the same in every family


def flag_spellings(help_text: str) -> list[list[str]]:
    """Each optional argument's spellings, as its `--help` entry lists them."""
    entries = []
    for line in help_text.splitlines():
        entry = ENTRY.match(line)
        if entry and entry.group(1).startswith("-"):
            flags = re.findall(r"(?:^|, )(--[\w-]+)", entry.group(1))
            if flags and not SHARED_FLAGS & set(flags):
                entries.append(flags)
    return entries


@pytest.mark.parametrize(
    "script", SCRIPTS, ids=lambda p: p.relative_to(REPO / "scripts").as_posix()
)
def test_flag_style_is_the_family_s(script):
    proc = subprocess.run(
        [sys.executable, str(script), "--help"], capture_output=True, text=True, env=offline_env()
    )
    separator = "_" if script.parent.name in SNAKE_CASE_FAMILIES else "-"
    other = "-" if separator == "_" else "_"
    off_style = [
        flags
        for flags in flag_spellings(proc.stdout)
        if not any(other not in flag[2:] for flag in flags)
    ]
    assert off_style == [], f"{script.name}: use {separator!r} between words"
