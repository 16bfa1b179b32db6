"""`submit --write-response`: the supervisor writes the answer to the task's response path when the
task completes, so nobody has to run `wait` (issue 12, point 1). Real CLI, stand-in agents."""

from __future__ import annotations

import json
from pathlib import Path

from helpers.supervisor import make_settings, standins  # noqa: F401  (fixture)


def test_write_response_lands_the_answer_at_its_path_on_completion(workspace, standins, monkeypatch):  # noqa: F811
    monkeypatch.setenv("STANDIN_ANSWER", "# Findings\n\nnone")
    make_settings(workspace)
    asked = workspace.run("submit", "--lane", "default", "--prompt", "review", "--request-from", "request.md", "--response-to", "out/review.md",
                          "--write-response", "--json")
    plain = workspace.run("submit", "--lane", "default", "--prompt", "review", "--request-from", "request.md", "--response-to", "out/plain.md",
                          "--json")
    assert asked.returncode == 0 and plain.returncode == 0, (asked.stderr, plain.stderr)
    task = json.loads(asked.stdout)["task"]
    assert task["metadata"]["write_response"] is True
    done = workspace.run("--no-ui", "--drain", "--json")
    assert done.returncode == 0, done.stderr
    target = Path(task["response_path"])
    assert target.read_text() == "# Findings\n\nnone"
    assert not (workspace.root / "out" / "plain.md").exists()  # only when asked: agent-lanes' rule otherwise
    completed = [json.loads(line) for line in done.stdout.splitlines() if '"task_completed"' in line]
    assert {item.get("response_file") for item in completed} == {str(target), None}


def test_no_ui_transcript_prints_every_line_of_every_message(workspace, standins, monkeypatch):  # noqa: F811
    """`--no-ui --transcript`: the dashboard's transcript on stdout, nothing cut to a last line."""
    monkeypatch.setenv("STANDIN_ANSWER", "Plan:\n1. first\n2. second\n3. third")
    make_settings(workspace)
    task = workspace.submit(prompt="plan it")
    done = workspace.run("--no-ui", "--drain", "--transcript")
    assert done.returncode == 0, done.stderr
    tag = task["id"][-12:]
    lines = [line.removeprefix(f"{tag} | ") for line in done.stdout.splitlines() if line.startswith(f"{tag} | ")]
    text = "\n".join(lines)
    assert lines[0] == "\u2500\u2500 attempt 1 \u2500\u2500 attempt-1.log"
    assert "\u2713 final result\n    Plan:\n    1. first\n    2. second\n    3. third" in text
    assert "Bash: ls -la" in text and "\u25c6 assistant" in text
    assert lines.count("\u2713 final result") == 1  # each line printed once, however the events fell
    second = workspace.submit(prompt="again", name="again")
    as_json = workspace.run("--no-ui", "--drain", "--transcript", "--json")
    assert as_json.returncode == 0, as_json.stderr
    records = [json.loads(line) for line in as_json.stdout.splitlines()]
    printed = [r["line"] for r in records if r.get("event") == "transcript"]
    assert {r["task_id"] for r in records if r.get("event") == "transcript"} == {second["id"]}  # only what ran
    assert printed[0] == "\u2500\u2500 attempt 1 \u2500\u2500 attempt-1.log" and "    3. third" in printed
    workspace.submit(prompt="quiet", name="quiet")
    without = workspace.run("--no-ui", "--drain")
    assert without.returncode == 0 and "| \u2713 final result" not in without.stdout
