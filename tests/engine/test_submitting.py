"""The dashboard's submit form: defaults, generated request files, and one error per bad field."""

from __future__ import annotations

import pytest

from lanes_tui.core.handoff import load_config
from lanes_tui.engine.submitting import (
    GENERATED_DIR,
    FieldError,
    SubmitForm,
    parse_metadata,
    submit_form,
)


def _submit(workspace, **fields):
    config = load_config(workspace.config)
    return submit_form(workspace.store(), config, SubmitForm(**fields), source_agent="operator:test")


def test_a_prompt_alone_is_enough(workspace):
    task = _submit(workspace, lane="default", prompt="Explain the retry policy.")
    generated = workspace.config.parent / GENERATED_DIR
    request = generated / task["request_path"].rsplit("/", 1)[-1]
    assert task["request_path"].startswith(str(generated)) and task["response_path"].startswith(str(generated))
    assert "Explain the retry policy." in request.read_text(encoding="utf-8")
    assert workspace.store().read_task(task["id"])["prompt"] == "Explain the retry policy."


def test_routing_and_extra_metadata_reach_the_task(workspace):
    task = _submit(workspace, lane="review", prompt="p", vendor="codex", model_class="gpt-5-3", effort="high",
                   metadata=parse_metadata("ticket=ABC-1, priority = 2"))
    on_disk = workspace.store().read_task(task["id"])
    assert on_disk["lane"] == "review"
    assert on_disk["metadata"] == {"required_vendor": "codex", "model_class": "gpt-5-3", "effort": "high",
                                   "ticket": "ABC-1", "priority": "2", "write_response": True}
    assert on_disk["source_agent"] == "operator:test"


def test_any_vendor_adds_no_requirement(workspace):
    task = _submit(workspace, lane="default", prompt="p", vendor="any")
    assert "required_vendor" not in task["metadata"]


def test_a_task_file_is_used_and_the_form_overrides_it(workspace):
    tasks = workspace.root / "tasks"
    tasks.mkdir()
    (tasks / "review.yaml").write_text('lane: "review"\nprompt: "from the file"\nmetadata: {kind: review}\n')
    task = _submit(workspace, task_file="tasks/review.yaml", lane="", prompt="")
    assert (task["lane"], task["prompt"], task["metadata"]["kind"]) == ("review", "from the file", "review")
    task = _submit(workspace, task_file="tasks/review.yaml", lane="other", prompt="typed")
    assert (task["lane"], task["prompt"]) == ("other", "typed")


@pytest.mark.parametrize("fields, field_name, message", [
    ({"lane": "", "prompt": "p"}, "lane", "lane:"),
    ({"lane": "bad\x1b[31mlane", "prompt": "p"}, "lane", "lane:"),  # printable names only (as submit takes)
    ({"lane": "x", "prompt": "  "}, "prompt", "write a prompt"),
    ({"lane": "x", "prompt": "p", "vendor": "a b"}, "vendor", "vendor"),
    ({"lane": "x", "prompt": "p", "request_path": "/etc/passwd"}, "request_path", "outside"),
    ({"lane": "x", "prompt": "p", "request_path": "missing.md"}, "request_path", "does not exist"),
    ({"lane": "x", "prompt": "p", "response_path": "../../elsewhere.md"}, "response_path", "outside"),
    ({"lane": "x", "prompt": "p", "task_file": "tasks/none.yaml"}, "task_file", "none.yaml"),
])
def test_each_bad_field_is_named_and_nothing_is_created(workspace, fields, field_name, message):
    with pytest.raises(FieldError) as caught:
        _submit(workspace, **fields)
    assert caught.value.field_name == field_name
    assert message in str(caught.value) and "\n" not in str(caught.value)
    assert workspace.store().task_ids() == []


def test_the_form_and_submit_share_one_pipeline(workspace):
    """Issue 10: the form and `submit` had different rules (lane, prompt limit, path base)."""
    import subprocess
    import sys

    lane = "two words, and punctuation!"  # agent-lanes takes any printable lane; so do both now
    task = _submit(workspace, lane=lane, prompt="from the form")
    assert task["lane"] == lane
    done = subprocess.run([sys.executable, "-m", "lanes_tui", "--config", str(workspace.config), "submit", "--lane",
                           lane, "--prompt", "p", "--request-from", str(workspace.request), "--response-to", "o.md"],
                          capture_output=True, text=True, cwd=workspace.root, timeout=60)
    assert done.returncode == 0, done.stderr
    big = "x" * ((32 << 20) + 1)
    with pytest.raises(FieldError, match="prompt is too large"):
        _submit(workspace, lane="l", prompt=big)  # the same 32 MiB limit as submit's


@pytest.mark.parametrize("text", ["novalue", "=x", "a b=c", "k=v,bad"])
def test_bad_metadata_is_a_field_error(text):
    with pytest.raises(FieldError) as caught:
        parse_metadata(text)
    assert caught.value.field_name == "metadata"


def test_metadata_pairs_split_on_commas_and_newlines():
    assert parse_metadata("a=1,\n b = two words \n\n") == {"a": "1", "b": "two words"}


def test_generated_requests_are_ignored_by_git(workspace):
    from helpers.gitrepo import git, make_repository

    make_repository(workspace)
    before = set(git(workspace.root, "status", "--porcelain", "--untracked-files=all").splitlines())
    task = _submit(workspace, lane="default", prompt="typed into the form")
    generated = workspace.config.parent / GENERATED_DIR
    assert (generated / ".gitignore").read_text().splitlines()[-1] == "*"
    after = set(git(workspace.root, "status", "--porcelain", "--untracked-files=all").splitlines())
    assert after == before, after - before  # neither the request nor the response shows up
    assert git(workspace.root, "check-ignore", task["request_path"]) == task["request_path"]
