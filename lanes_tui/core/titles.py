"""A task's title: what a person calls it in a table row (pure).

`metadata.title` when the submitter gave one (`submit --title`, the form, a task
file's metadata), else the prompt's first non-blank line. Either way it is
agent-lanes data anyone can write, so it is cleaned to one printable line and
capped. The prompt's head is kept beside it for the dashboard's filter: a word
typed in the filter matches the title or the first PROMPT_HEAD_CHARS of the
prompt, without the index holding every prompt whole (the head is only matched,
never drawn).
"""

from __future__ import annotations

import re
from typing import Any

from lanes_tui.core.sanitize import one_line

TITLE_KEY = "title"
MAX_TITLE_CHARS = 120
PROMPT_HEAD_CHARS = 500
# A first line is looked for in this much of the prompt only: a 32 MB prompt with no
# newline must not be scanned whole for every task the index loads.
_FIRST_LINE_SCAN = 4096


def task_title(task: dict[str, Any]) -> str:
    """The title to show for `task` ("" when it has neither a title nor a prompt)."""
    metadata = task.get("metadata")
    given = metadata.get(TITLE_KEY) if isinstance(metadata, dict) else None
    if isinstance(given, str) and given.strip():
        return one_line(given.strip(), MAX_TITLE_CHARS)
    return first_line(task.get("prompt"))


def first_line(prompt: Any) -> str:
    """The first non-blank line of `prompt`, cleaned and capped; "" for no text."""
    if not isinstance(prompt, str):
        return ""
    # Line by line with find, not splitlines(): the index does this for every task it loads,
    # and the first line is usually the first few dozen characters.
    start, end = 0, min(len(prompt), _FIRST_LINE_SCAN)
    while start < end:
        stop = prompt.find("\n", start, end)
        stop = end if stop < 0 else stop
        line = prompt[start:stop].strip().lstrip("#").strip()  # a Markdown heading's marks are not its title
        if line:
            return one_line(line[:MAX_TITLE_CHARS + 1], MAX_TITLE_CHARS)
        start = stop + 1
    return ""


def prompt_head(task: dict[str, Any]) -> str:
    """The prompt's first PROMPT_HEAD_CHARS characters, for matching filter words only (never
    drawn, so not cleaned: cleaning 10,000 prompts cost the index's first scan ~10%)."""
    prompt = task.get("prompt")
    return prompt[:PROMPT_HEAD_CHARS] if isinstance(prompt, str) else ""


def check_title(value: Any) -> str:
    """A title as given on the command line or in the form: "" for none, else the text
    (ValueError naming the problem: not one line, or too long)."""
    if value is None:
        return ""
    text = str(value).strip()
    if "\n" in text or "\r" in text:
        raise ValueError("a title is one line")
    if len(text) > MAX_TITLE_CHARS:
        raise ValueError(f"a title is at most {MAX_TITLE_CHARS} characters (got {len(text)})")
    return text


# The supervisor's failure body: "failed after 2 attempt(s):\n1. <reason>\n2. <reason>".
_FAILED_AFTER = re.compile(r"failed after (\d+) attempt\(s\):\s*\n")
_NUMBERED = re.compile(r"^\d+\.\s+")


def failure_summary(reason: str) -> str:
    """A failure reason as a row shows it: the last attempt's reason first, the count after
    ("exited 3: no .env (after 2 attempts)"), not "failed after 1 attempt(s): 1. ..." cut off
    before anything useful. Other reasons ("cancelled", an agent's own) as they are."""
    head = _FAILED_AFTER.match(reason)
    if head is None:
        return reason
    lines = [line for line in reason[head.end():].splitlines() if line.strip()]
    if not lines:
        return reason
    last = _NUMBERED.sub("", lines[-1].strip())
    count = int(head.group(1))
    return last if count == 1 else f"{last} (after {count} attempts)"
