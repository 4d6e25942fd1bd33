"""Every documentation page with code runs as written and prints what it shows."""

import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
sys.path.insert(0, str(DOCS / "_ext"))

import executed_pages  # noqa: E402

PAGES = executed_pages.executed_pages(DOCS)


def test_the_exercise_page_is_collected():
    names = {page.name for page in PAGES}
    assert "lstm_autoencoder_exercise.rst" in names


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(DOCS)) for p in PAGES])
def test_page_runs_and_prints_what_it_shows(page, tmp_path):
    executed_pages.run_page(page, tmp_path)
    # A figure the page shows must be one its own code wrote.
    text = page.read_text(encoding="utf-8")
    for line in text.splitlines():
        if line.strip().startswith(".. image:: /_generated/"):
            name = line.split("/_generated/", 1)[1].strip()
            assert (tmp_path / name).is_file(), f"{page.name} shows {name} but did not write it"


def test_runner_reports_a_wrong_output(tmp_path):
    page = tmp_path / "page.rst"
    page.write_text(
        "Title\n=====\n\n.. testcode::\n\n   print(1 + 1)\n\n.. testoutput::\n\n   3\n",
        encoding="utf-8",
    )
    with pytest.raises(executed_pages.PageError, match="printed output differs"):
        executed_pages.run_page(page, tmp_path / "work")


def test_runner_reports_an_exception_with_the_line(tmp_path):
    page = tmp_path / "page.rst"
    page.write_text("T\n=\n\n.. testcode::\n\n   1 / 0\n", encoding="utf-8")
    with pytest.raises(executed_pages.PageError, match=r"line 4 raised ZeroDivisionError"):
        executed_pages.run_page(page, tmp_path / "work")
