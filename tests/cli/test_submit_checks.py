"""`submit` and `requeue` refuse metadata no vendor here could run, before anything is written.

An unknown model class, effort or permission preset used to be accepted and the
task then failed at once in the supervisor; now it is a one-line error naming
the key and the valid values (exit 5). A broken lanes-tui.yaml is exit 6.
"""

from __future__ import annotations

import json

import pytest


def submit(workspace, *metadata: str, lane: str = "default", settings: str | None = None):
    args = []
    if settings is not None:
        args += ["--settings", settings]
    args += ["submit", "--lane", lane, "--prompt", "p", "--request-from", str(workspace.request),
             "--response-to", str(workspace.root / "out.md")]
    for item in metadata:
        args += ["--metadata", item]
    return workspace.run(*args)


@pytest.mark.parametrize("metadata, message", [
    (["effort=extreme"], "metadata.effort: no vendor can run this task: unknown effort 'extreme' for vendor "
                         "claude; known: high, low, max, medium, xhigh; unknown effort 'extreme' for vendor codex; "
                         "known: high, low, max, medium, ultra, xhigh"),
    (["required_vendor=claude", "effort=ultra"],
     "metadata.effort: unknown effort 'ultra' for vendor claude; known: high, low, max, medium, xhigh"),
    (["required_vendor=codex", "model_class=gpt-5-3"],
     "metadata.model_class: unknown model_class 'gpt-5-3' for vendor codex; known: any, astra, luna, sol"),
    (["permissions=root"], "metadata.permissions: unknown preset 'root'; known: read-only, edit, ask, trusted"),
    (["permissions=edit"], "metadata.permissions: 'edit' is wider than lane 'default' allows ('read-only'); "
                           "a task may only narrow its lane's permissions"),
])
def test_unknown_run_metadata_is_exit_5_naming_the_key_and_nothing_is_written(workspace, metadata, message):
    done = submit(workspace, *metadata)
    assert done.returncode == 5, done.stderr
    assert done.stderr == f"lanes-tui: {message}\n"
    assert workspace.store().task_ids() == []


def test_known_values_and_foreign_vendors_are_accepted(workspace):
    done = submit(workspace, "required_vendor=codex", "model_class=astra", "effort=ultra")
    assert done.returncode == 0, done.stderr
    # A vendor not configured here may be served by another dispatcher: accepted, as agent-lanes does.
    assert submit(workspace, "required_vendor=gemini", "effort=whatever").returncode == 0
    assert len(workspace.store().task_ids()) == 2


def test_the_lanes_settings_decide_what_is_known(workspace):
    (workspace.config.parent / "lanes-tui.yaml").write_text(
        "lanes: {dev: {permissions: edit}}\nvendors: {claude: {efforts: {extreme: [--effort, max]}}}\n",
        encoding="utf-8")
    assert submit(workspace, "permissions=edit", lane="dev").returncode == 0
    assert submit(workspace, "required_vendor=claude", "effort=extreme").returncode == 0
    assert submit(workspace, "permissions=trusted", lane="dev").returncode == 5


def test_the_ask_preset_is_refused_for_codex_with_a_clear_message(workspace):
    """codex exec offers no hook for asking the operator about a tool call (issue 13): a task
    for codex on an `ask` lane is refused at once instead of running with a weaker preset."""
    (workspace.config.parent / "lanes-tui.yaml").write_text("lanes: {dev: {permissions: ask}}\n", encoding="utf-8")
    done = submit(workspace, "required_vendor=codex", lane="dev")
    assert done.returncode == 5
    assert done.stderr == "lanes-tui: metadata.permissions: vendor codex has no 'ask' permission preset\n"
    assert submit(workspace, "required_vendor=claude", lane="dev").returncode == 0
    assert len(workspace.store().task_ids()) == 1


def test_a_broken_settings_file_is_exit_6(workspace):
    (workspace.config.parent / "lanes-tui.yaml").write_text("lanes: {dev: {permisions: edit}}\n", encoding="utf-8")
    done = submit(workspace)
    assert done.returncode == 6
    assert done.stderr.startswith("lanes-tui: ") and "lanes.dev.permisions is not a known setting" in done.stderr
    assert done.stderr.count("\n") == 1 and workspace.store().task_ids() == []


def test_requeue_checks_the_overrides_too(workspace):
    task = workspace.submit(metadata={"required_vendor": "codex"})
    store = workspace.store()
    claimed = store.claim(task["id"], owner="me", lease_seconds=60)
    store.respond(task["id"], body="no", reviewer="me", claim_token=claimed["claim_token"], status="failed")
    done = workspace.run("requeue", task["id"], "--metadata", "effort=minimal", "--json")
    assert done.returncode == 5
    assert json.loads(done.stdout)["message"].startswith("metadata.effort: unknown effort 'minimal' for vendor codex")
    assert store.task_ids() == [task["id"]]
    assert workspace.run("requeue", task["id"], "--metadata", "effort=max").returncode == 0


@pytest.mark.parametrize("settings, key", [
    ("lanes: {dev: {permissions: sudo}}\n", "lanes.dev.permissions must be one of read-only, edit, ask, trusted (got 'sudo')"),
    ("vendors: {claude: {default_effort: turbo}}\n", "vendors.claude.default_effort 'turbo' is not in vendors.claude.efforts"),
    ("vendors: {codex: {stream: gemini}}\n", "vendors.codex.stream must be one of claude, codex (got 'gemini')"),
    ("vendors: {codex: {models: {sol: ''}}}\n", "vendors.codex.models.sol must be a non-empty string"),
])
def test_the_supervisor_refuses_bad_settings_with_exit_6_and_claims_nothing(workspace, settings, key):
    task = workspace.submit()
    (workspace.config.parent / "lanes-tui.yaml").write_text(settings, encoding="utf-8")
    done = workspace.run("--no-ui", "--drain")
    assert done.returncode == 6 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("lanes-tui: ") and key in done.stderr
    assert workspace.store().read_task(task["id"])["state"] == "queued"


def test_submit_title_is_kept_in_metadata_and_a_bad_one_is_exit_5_with_nothing_written(workspace):
    base = ["submit", "--lane", "default", "--prompt", "p", "--request-from", str(workspace.request),
            "--response-to", str(workspace.root / "out.md"), "--json"]
    done = workspace.run(*base, "--title", "  Review the parser  ")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["task"]["metadata"]["title"] == "Review the parser"
    for bad, message in (("two\nlines", "title: a title is one line"), ("x" * 121, "title: a title is at most 120")):
        refused = workspace.run(*base, "--title", bad)
        assert refused.returncode == 5 and message in refused.stderr and "Traceback" not in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1
    assert len(workspace.store().task_ids()) == 1
