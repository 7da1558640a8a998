"""Point 9: every `console` example in the docs is run, and its output compared with the page.

A page's ```console blocks run in order in one fresh project (a copy of sql/ and tests/events),
against that project's own embedded PostgreSQL, as a reader would type them. Lines starting with
`$ ` are commands; the lines after them are the output (stdout and stderr as the terminal shows
them). A line `...` in the page stands for any number of lines. Ports, durations, timestamps,
passwords and random names are masked on both sides; everything else must match exactly, so a
checksum, a count or a message in the docs cannot go stale.
"""

from __future__ import annotations

import difflib
import re
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from db_init import manifest
from db_init.embedded import LocalServer
from tests.postgres import REPO, SQL_DIR
from tests.shoppulse_cli import EXECUTABLE, make_project

# the pages whose console examples are executed (others opt in by being listed here)
PAGES = (
    "README.md",
    "docs/README.md",
    "docs/cli.md",
    "docs/migrations.md",
    "docs/custom-resource.md",
    "docs/operations.md",
    "docs/security-and-tenancy.md",
)
_BLOCK = re.compile(r"^```console\n(.*?)^```", re.MULTILINE | re.DOTALL)
_MARKER = "@@shoppulse-docs-exit@@"
_MASKS = (
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:PORT"),
    (re.compile(r'"port": \d+'), '"port": PORT'),
    (re.compile(r"postgres:[A-Za-z0-9_%-]+@"), "postgres:PASSWORD@"),
    (re.compile(r"_rehearsal_[0-9a-f]{8}"), "_rehearsal_XXXXXXXX"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d"), "TIMESTAMP"),
    (re.compile(r" +\d+ ms\b"), " N ms"),  # with the padding of a right-aligned column
    (re.compile(r"\b\d+ ms\b"), "N ms"),
    (re.compile(r"\b\d+(\.\d+)?s\b"), "Ns"),
    (re.compile(r"[\d,]+ rows/s"), "N rows/s"),
)


@dataclass(frozen=True)
class Step:
    """One command of a console block and the output the page shows for it."""

    command: str
    expected: list[str]


def steps_of(page: Path) -> list[Step]:
    """The commands and their shown output, in page order."""
    steps: list[Step] = []
    for block in _BLOCK.findall(page.read_text()):
        for line in block.splitlines():
            if line.startswith("$ "):
                steps.append(Step(line[2:], []))
            elif steps:
                steps[-1].expected.append(line)
            else:
                raise AssertionError(f"{page}: console block output before any `$ ` command")
    return steps


def masked(line: str, project: Path) -> str:
    """The line with what varies between runs masked."""
    line = line.replace(f"{project}/", "").replace(str(project), ".").rstrip()
    for pattern, replacement in _MASKS:
        line = pattern.sub(replacement, line)
    return line


def matches(expected: list[str], actual: list[str]) -> bool:
    """Whether `actual` matches `expected`, where a `...` line stands for any lines."""
    if not expected:
        return not actual
    if expected[0] == "...":
        return any(matches(expected[1:], actual[i:]) for i in range(len(actual) + 1))
    return bool(actual) and actual[0] == expected[0] and matches(expected[1:], actual[1:])


def run_steps(steps: list[Step], project: Path) -> list[list[str]]:
    """Run the commands in one shell in `project`; the output of each (stdout and stderr)."""
    # after each command: mark the end of its output, then give $? back for a following `echo $?`
    script = "".join(
        f"{step.command}\n__rc=$?; echo {_MARKER}$__rc; (exit $__rc)\n" for step in steps
    )
    env = {
        "PATH": f"{EXECUTABLE.parent}:/usr/bin:/bin",
        "HOME": str(project),
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",  # stdout and stderr interleave as on a terminal
        "COLUMNS": "100",
    }
    result = subprocess.run(
        ["bash", "--noprofile", "--norc"],
        input=script,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=project,
        env=env,
        timeout=300,
        check=False,
    )
    outputs: list[list[str]] = [[]]
    for line in result.stdout.splitlines():
        if line.startswith(_MARKER):
            outputs.append([])
        else:
            outputs[-1].append(line)
    return outputs[: len(steps)]


@pytest.fixture(scope="module")
def initialised(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An embedded server's files after its first start, stopped: copied to save an initdb a page."""
    directory = tmp_path_factory.mktemp("docs-template") / ".shoppulse-db"
    server = LocalServer(directory)
    server.start()
    server.stop()
    return directory


@pytest.fixture
def project(tmp_path: Path, initialised: Path) -> Iterator[Path]:
    """A fresh project like a reader's checkout: sql/ and tests/events, its server not running."""
    directory = make_project(tmp_path / "shoppulse")
    shutil.copytree(REPO / "tests" / "events", directory / "tests" / "events")
    # cp -a keeps the owner (the server's own user when the tests run as root), who must also
    # be able to reach the copy through the test's private temporary directories
    subprocess.run(["cp", "-a", str(initialised), str(directory / ".shoppulse-db")], check=True)
    for parent in (directory, *directory.parents):
        if parent == Path(tempfile.gettempdir()):
            break
        parent.chmod(parent.stat().st_mode | stat.S_IXGRP | stat.S_IXOTH)
    yield directory
    LocalServer(directory / ".shoppulse-db").stop()


@pytest.mark.parametrize("page", PAGES)
def test_console_examples_produce_what_the_page_shows(page: str, project: Path) -> None:
    # GIVEN the page's console examples
    steps = steps_of(REPO / page)
    if not steps:
        pytest.skip(f"{page} has no console examples")
    # WHEN they run in a fresh project, in order
    outputs = run_steps(steps, project)
    # THEN each command printed what the page shows
    for step, output in zip(steps, outputs, strict=True):
        actual = [masked(line, project) for line in output]
        expected = [masked(line, project) for line in step.expected]
        if not matches(expected, actual):
            diff = "\n".join(difflib.unified_diff(expected, actual, "page", "actual", lineterm=""))
            raise AssertionError(f"{page}: `$ {step.command}` printed otherwise:\n{diff}")


_MANIFEST_ENTRY = re.compile(r"\b(V\d{3}):([0-9a-f]{8})\b")


def test_plan_checksums_quoted_in_the_docs_are_the_current_ones() -> None:
    # GIVEN the migrations' short checksums as the CDK app puts them in `Migrations`
    current = dict(entry.split(":") for entry in manifest.manifest_of(SQL_DIR))
    # THEN every V<n>:<sha8> quoted in a page, for a migration that exists, is the current one
    for page in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        for label, short in _MANIFEST_ENTRY.findall(page.read_text()):
            if label in current:
                assert short == current[label], f"{page.name}: {label}:{short} is stale"


def test_every_page_the_readme_links_exists() -> None:
    # GIVEN the links in README.md and docs/README.md to pages of this repository
    for page in (REPO / "README.md", REPO / "docs" / "README.md"):
        for link in re.findall(r"\]\(([^)#:]+\.md)(?:#[^)]*)?\)", page.read_text()):
            target = (page.parent / link).resolve()
            # THEN each exists
            assert target.exists(), f"{page.name}: {link}"


def test_docs_index_lists_every_page() -> None:
    index = (REPO / "docs" / "README.md").read_text()
    for page in sorted((REPO / "docs").glob("*.md")):
        if page.name != "README.md":
            assert f"]({page.name})" in index, f"docs/README.md does not link {page.name}"
