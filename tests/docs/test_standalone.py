"""A clone stands on its own: nothing cites a document the repository lacks.

* No file outside ``docs/`` names the design notes that live outside the
  repository (the design page and its seed files): ``docs/`` holds the design
  and the contracts instead.
* Every relative link of a README.md or a ``docs/*.md`` page, ``[text](path)``
  or ``[text](path#anchor)``, points at a file (or folder) of the repository,
  and an anchor into a Markdown page names one of its headings.
* Every ``docs/<page>.md#<anchor>`` cited in any file (code comments, SQL, YAML)
  names a heading of that page.

"The repository" is what git tracks plus the new files it does not ignore, as
they are in the working tree: what a commit of the tree would hold.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote

import pytest

from repo_files import project_files

ROOT = Path(__file__).resolve().parents[2]
THIS_FILE = Path(__file__).resolve().relative_to(ROOT).as_posix()

# The documents that live outside the repository, as files used to cite them.
OUTSIDE_DOCUMENTS = re.compile(rb"DESIGN\.md|seeds/")

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,}).*?^ {0,3}\1[`~]*[ \t]*$", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)", re.DOTALL)
LINK = re.compile(
    r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]"  # [text] (one level of nested brackets)
    r"\(\s*<?([^()\s<>]*)>?(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)"  # (target "title")
)
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$", re.MULTILINE)
HTML_ANCHOR = re.compile(r"<a\s[^>]*\b(?:name|id)=\"([^\"]+)\"", re.IGNORECASE)
DOCS_CITATION = re.compile(r"\bdocs/([\w.-]+\.md)#([\w-]+)")


def folders_of(files: list[str] | set[str]) -> set[str]:
    return {
        "/".join(name.split("/")[:depth])
        for name in files
        for depth in range(1, name.count("/") + 1)
    }


FILES = [name for name in project_files(ROOT) if (ROOT / name).is_file()]
FOLDERS = folders_of(FILES)
PAGES = [
    name
    for name in FILES
    if posixpath.basename(name) == "README.md" or re.fullmatch(r"docs/[^/]+\.md", name)
]


def without_code(markdown: str) -> str:
    """The text outside fenced code blocks and code spans (links there are not links)."""
    return CODE_SPAN.sub("", FENCE.sub("", markdown))


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to '-'."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    text = re.sub(r"<[^>]+>", "", text)
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    """Every anchor of a page: its headings' (the n-th repeat gets '-n') and HTML ones."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    for heading in HEADING.findall(FENCE.sub("", markdown)):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found | set(HTML_ANCHOR.findall(markdown))


def link_problems(
    page: str,
    markdown: str,
    files: list[str] | set[str] = FILES,
    read: Callable[[str], str] = lambda name: (ROOT / name).read_text(),
) -> list[str]:
    """The relative links of ``page`` whose file or anchor is not among ``files``."""
    folders = FOLDERS if files is FILES else folders_of(files)
    problems = []
    for target in LINK.findall(without_code(markdown)):
        if not target or SCHEME.match(target):
            continue  # http(s), mailto: not this repository's to check
        path, _, anchor = unquote(target).partition("#")
        if not path:
            resolved = page
        elif path.startswith("/"):
            resolved = posixpath.normpath(path.lstrip("/"))
        else:
            resolved = posixpath.normpath(posixpath.join(posixpath.dirname(page), path))
        if resolved.startswith("../") or resolved == "..":
            problems.append(f"{target}: outside the repository")
        elif resolved not in {page, "."} and resolved not in files and resolved not in folders:
            problems.append(f"{target}: no such file in the repository ({resolved})")
        elif (
            anchor
            and resolved.endswith(".md")
            and anchor not in anchors(markdown if resolved == page else read(resolved))
        ):
            problems.append(f"{target}: {resolved} has no heading with anchor #{anchor}")
    return problems


def test_no_file_outside_docs_cites_documents_the_repository_lacks() -> None:
    citations = []
    for name in FILES:
        if name.startswith("docs/") or name == THIS_FILE:
            continue
        data = (ROOT / name).read_bytes()
        for number, line in enumerate(data.splitlines(), start=1):
            if OUTSIDE_DOCUMENTS.search(line):
                citations.append(f"{name}:{number}: {line.decode(errors='replace').strip()}")
    assert not citations, (
        "these files cite design notes that are not in the repository; cite the section "
        "of docs/ that holds what they rely on instead:\n" + "\n".join(citations)
    )


@pytest.mark.parametrize("page", PAGES)
def test_relative_links_point_into_the_repository(page: str) -> None:
    problems = link_problems(page, (ROOT / page).read_text())
    assert not problems, f"{page}:\n" + "\n".join(problems)


def test_docs_anchors_cited_anywhere_exist() -> None:
    problems = []
    for name in FILES:
        if name == THIS_FILE:
            continue
        try:
            text = (ROOT / name).read_text()
        except UnicodeDecodeError:
            continue  # images and other binary files cite nothing
        for page, anchor in DOCS_CITATION.findall(text):
            cited = f"docs/{page}"
            if cited not in FILES:
                problems.append(f"{name}: docs/{page}#{anchor}: no such page")
            elif anchor not in anchors((ROOT / cited).read_text()):
                problems.append(f"{name}: docs/{page}#{anchor}: no such heading in {cited}")
    assert not problems, "\n".join(problems)


def test_the_docs_hold_the_design_and_the_contracts() -> None:
    assert {"docs/architecture.md", "docs/contracts.md"} <= set(FILES)


# The checks themselves, on pages made up for the purpose: each catches what it is for.
def test_link_check_finds_missing_files_and_anchors_and_skips_code_and_urls() -> None:
    page = "docs/example.md"
    markdown = "\n".join(
        [
            "# Example page",
            "## Field `projection` (v2)",
            "[ok](contracts.md#field-projection) [self](#field-projection-v2)",
            "[folder](../roles/dw) [root](/README.md) [web](https://example.com/x.md)",
            "[gone](missing.md) [bad anchor](contracts.md#no-such-heading)",
            "[up and out](../../outside.md) [title](#example-page)",
            "`[in code](nowhere.md)`",
            "```",
            "[in a fence](nowhere-either.md)",
            "```",
        ]
    )
    files = {"README.md", "docs/contracts.md", "roles/dw/README.md"}
    problems = link_problems(page, markdown, files, read=lambda _: "## Field projection\n")
    assert [problem.split(":")[0] for problem in problems] == [
        "missing.md",
        "contracts.md#no-such-heading",
        "../../outside.md",
    ]


def test_slugs_follow_github() -> None:
    assert slug("Measured facts") == "measured-facts"
    assert slug("Finding what is deployed (`tasks_from: discover`)") == (
        "finding-what-is-deployed-tasks_from-discover"
    )
    assert slug("[HTTP API](x.md) limits") == "http-api-limits"
    assert anchors("## Notes\n## Notes\n## Notes\n") == {"notes", "notes-1", "notes-2"}


def test_citation_pattern_matches_what_the_first_test_forbids() -> None:
    assert OUTSIDE_DOCUMENTS.search(b"see DESIGN.md")
    assert OUTSIDE_DOCUMENTS.search(b"(the seeds/002 projection table)")
    assert not OUTSIDE_DOCUMENTS.search(b"the same seed gives the same figures")
