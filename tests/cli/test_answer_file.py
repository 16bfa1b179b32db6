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
