"""A task's title: metadata.title, else the prompt's first line; always one clean, capped line."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lanes_tui.core.sanitize import is_clean
from lanes_tui.core.titles import (
    MAX_TITLE_CHARS,
    PROMPT_HEAD_CHARS,
    check_title,
    failure_summary,
    prompt_head,
    task_title,
)


def test_the_given_title_wins_over_the_prompt():
    assert task_title({"metadata": {"title": "  Fix the login bug "}, "prompt": "long text"}) == "Fix the login bug"


def test_without_a_title_the_first_non_blank_prompt_line_is_used_without_heading_marks():
    assert task_title({"metadata": {}, "prompt": "\n\n  ## Review app.py\nthen more"}) == "Review app.py"
    assert task_title({"metadata": {"title": "   "}, "prompt": "one\ntwo"}) == "one"  # a blank title is none
    assert task_title({"metadata": {"title": 42}, "prompt": "words"}) == "words"  # not text: not a title
    assert task_title({"metadata": None}) == ""


def test_agent_written_titles_are_escaped_and_capped():
    hostile = "\x1b[31mred\x1b[0m \u202e" + "x" * 500
    title = task_title({"metadata": {"title": hostile}})
    assert is_clean(title) and "\x1b" not in title and len(title) <= MAX_TITLE_CHARS and title.endswith("\u2026")


@given(st.text(max_size=300), st.one_of(st.none(), st.text(max_size=300)))
def test_a_title_is_always_one_clean_line(prompt, given_title):
    metadata = {} if given_title is None else {"title": given_title}
    title = task_title({"metadata": metadata, "prompt": prompt})
    assert is_clean(title) and "\n" not in title and len(title) <= MAX_TITLE_CHARS


def test_the_prompt_head_is_its_start_for_matching():
    head = prompt_head({"prompt": "find\nthe   bug " + "y" * 2000})
    assert head.startswith("find\nthe   bug y") and len(head) == PROMPT_HEAD_CHARS
    assert prompt_head({"prompt": None}) == ""


def test_a_long_first_line_is_capped_without_scanning_the_whole_prompt():
    title = task_title({"prompt": "word " * 10_000})
    assert len(title) <= MAX_TITLE_CHARS and title.endswith("\u2026")


@pytest.mark.parametrize("bad, message", [("two\nlines", "one line"), ("x" * (MAX_TITLE_CHARS + 1), "at most")])
def test_a_submitted_title_is_one_line_of_limited_length(bad, message):
    with pytest.raises(ValueError, match=message):
        check_title(bad)
    assert check_title("  ok  ") == "ok" and check_title(None) == ""


def test_a_failure_shows_its_last_reason_first():
    assert failure_summary("failed after 1 attempt(s):\n1. exited 3: no .env in the worktree") == \
        "exited 3: no .env in the worktree"
    assert failure_summary("failed after 2 attempt(s):\n1. timed out\n2. exited 1: boom") == \
        "exited 1: boom (after 2 attempts)"
    assert failure_summary("cancelled") == "cancelled"
    assert failure_summary("failed after 1 attempt(s):\n") == "failed after 1 attempt(s):\n"  # nothing to show
