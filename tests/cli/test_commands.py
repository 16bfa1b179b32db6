"""Happy paths and behaviour of the CLI verbs, through the real `lanes-tui` process."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers.procio import read_stderr_line

from lanes_tui import __version__
from lanes_tui.core.wire import TASK_KEYS

LANES_TUI = [sys.executable, "-m", "lanes_tui"]
AGENT_LANES = shutil.which("agent-lanes") or str(Path(sys.executable).parent / "agent-lanes")
TASKS_DIR = Path(__file__).resolve().parents[2] / "tasks"
EXAMPLE_TASKS = sorted(TASKS_DIR.glob("*.yaml"))


def ok_json(result: subprocess.CompletedProcess) -> dict:
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return json.loads(result.stdout)


def disk_task(workspace, task_id: str) -> dict:
    return json.loads((workspace.store_root / "tasks" / task_id / "task.json").read_text(encoding="utf-8"))


def disk_events(workspace, task_id: str) -> list[dict]:
    text = (workspace.store_root / "tasks" / task_id / "events.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def cli_submit(workspace, *extra: str, request: str = "request.md", response: str = "out.md", lane: str = "default") -> dict:
    return ok_json(workspace.run("--json", "submit", "--lane", lane, "--request-from", request, "--response-to", response, *extra))


def start(workspace, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [*LANES_TUI, "--config", str(workspace.config), *args],
        cwd=workspace.root, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


def finish(proc: subprocess.Popen, timeout: float = 30) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, out.decode(), err.decode()


# -- init / init-pool ------------------------------------------------------------------

TRICKY_IDS = ["yes", "no", "on", "null", "~", "1e3", "0x10", "012", "3.0", "a: b", "#not-a-comment",
              "[1, 2]", "{a: 1}", "it's", 'say "hi"', "back\\slash", "ünïcödé", "- item", "*alias", "&anchor", "!!str"]


@pytest.mark.parametrize("workspace_id", TRICKY_IDS)
def test_init_writes_quoted_yaml_that_keeps_strings(tmp_path, workspace, workspace_id):
    from agent_lanes.config import load_config as agent_lanes_load_config

    from lanes_tui.core.handoff import load_config

    target = tmp_path / "proj"
    payload = ok_json(workspace.run("--json", "init", str(target), "--workspace-id", workspace_id))
    assert payload["status"] == "initialized" and payload["workspace_id"] == workspace_id
    config = target / "handoff" / "handoff.yaml"
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    assert data["workspace_id"] == workspace_id
    assert data["workspace_root"] == ".." and data["queue_root"] == "state"
    theirs = agent_lanes_load_config(config)
    assert theirs.workspace_id == workspace_id
    assert theirs.workspace_root == target.resolve()
    assert theirs.store_root == (target / "handoff" / "state").resolve()
    ours = load_config(config)  # the strict loader: no anchors, no duplicates
    assert ours.workspace_id == workspace_id and ours.store_root == theirs.store_root


def test_init_layout_gitignore_and_wrapper(tmp_path, workspace):
    target = tmp_path / "proj"
    result = workspace.run("init", str(target), "--queue-root", "queue: state")
    assert result.returncode == 0, result.stderr
    assert "lanes-tui queue scaffolded at" in result.stdout
    handoff = target / "handoff"
    data = yaml.safe_load((handoff / "handoff.yaml").read_text(encoding="utf-8"))
    assert data["workspace_id"] == "proj"  # default: the folder name
    assert data["queue_root"] == "queue: state"
    store = handoff / "queue: state"
    assert stat.S_IMODE(store.stat().st_mode) == 0o700
    gitignore = (store / ".gitignore").read_text(encoding="utf-8")
    assert "*" in gitignore.splitlines()
    wrapper = handoff / "bin" / "handoff"
    assert os.access(wrapper, os.X_OK) and "lanes-tui" in wrapper.read_text(encoding="utf-8")


def test_init_offers_the_example_tasks_so_the_readmes_submit_works(tmp_path, workspace):
    target = tmp_path / "proj"
    (target / "tasks").mkdir(parents=True)
    (target / "tasks" / "question.yaml").write_text("mine: true\n", encoding="utf-8")
    result = workspace.run("init", str(target), "--json")
    assert result.returncode == 0, result.stderr
    copied = json.loads(result.stdout)["examples"]
    assert sorted(Path(p).name for p in copied) == sorted(p.name for p in EXAMPLE_TASKS if p.name != "question.yaml")
    assert (target / "tasks" / "question.yaml").read_text(encoding="utf-8") == "mine: true\n"  # never overwritten
    (target / "change.diff").write_text("a change\n", encoding="utf-8")
    submitted = subprocess.run([*LANES_TUI, "submit", "--task", "tasks/code-review.yaml", "--request-from",
                                "change.diff", "--response-to", "review.md"], cwd=target, capture_output=True,
                               text=True, timeout=60)
    assert submitted.returncode == 0, submitted.stderr
    bare = tmp_path / "bare"
    assert workspace.run("init", str(bare), "--no-examples").returncode == 0
    assert not (bare / "tasks").exists()


def test_init_twice_is_a_conflict_and_keeps_the_config(tmp_path, workspace):
    target = tmp_path / "proj"
    assert workspace.run("init", str(target), "--workspace-id", "first").returncode == 0
    config = target / "handoff" / "handoff.yaml"
    before = config.read_bytes()
    again = workspace.run("--json", "init", str(target), "--workspace-id", "second")
    assert again.returncode == 1
    assert json.loads(again.stdout)["error"] == "conflict"
    assert again.stderr.startswith("lanes-tui: handoff/ already exists")
    assert config.read_bytes() == before


def test_init_config_works_end_to_end_with_both_clis(tmp_path, workspace):
    target = tmp_path / "proj"
    assert workspace.run("init", str(target), "--workspace-id", "yes").returncode == 0
    write(target / "req.md", "please\n")
    config = str(target / "handoff" / "handoff.yaml")
    run = lambda *a: subprocess.run([*LANES_TUI, "--config", config, *a], cwd=target, capture_output=True, text=True, timeout=30)
    submitted = ok_json(run("--json", "submit", "--lane", "default", "--request-from", "req.md", "--response-to", "ans.md"))
    assert submitted["task"]["workspace_id"] == "yes"
    listed = subprocess.run([AGENT_LANES, "--config", config, "list", "--json"], cwd=target, capture_output=True, text=True, timeout=30)
    payload = ok_json(listed)
    assert [t["id"] for t in payload["tasks"]] == [submitted["task_id"]]
    assert payload["tasks"][0]["workspace_id"] == "yes"


def test_init_pool_layout_and_project_pointing_at_it(tmp_path, workspace):
    from agent_lanes.config import load_config as agent_lanes_load_config

    pool_root = tmp_path / "pool"
    payload = ok_json(workspace.run("--json", "init-pool", str(pool_root), "--workspace-id", "1e3"))
    queue = pool_root / ".agent-lanes-queue"
    store = queue / "state"
    assert payload["status"] == "initialized"
    assert Path(payload["queue"]) == queue and Path(payload["config"]) == queue / "handoff.yaml"
    assert Path(payload["store"]) == store
    assert store.is_dir() and (store / ".gitignore").is_file()
    assert stat.S_IMODE(queue.stat().st_mode) == 0o700 and stat.S_IMODE(store.stat().st_mode) == 0o700
    assert not (pool_root / "dispatchers").exists()  # the supervisor replaces agent-lanes' bash dispatcher
    pool_config = agent_lanes_load_config(queue / "handoff.yaml")
    assert pool_config.workspace_id == "1e3"
    assert pool_config.store_root == store.resolve() and pool_config.workspace_root == pool_root.resolve()

    again = workspace.run("init-pool", str(pool_root))
    assert again.returncode == 1 and "already exists" in again.stderr

    # A project inside the pool's workspace points its queue_root at the shared store.
    project = pool_root / "proj"
    assert workspace.run("init", str(project), "--workspace-root", "../..", "--queue-root", str(store)).returncode == 0
    write(project / "req.md", "r\n")
    result = subprocess.run(
        [*LANES_TUI, "--config", str(project / "handoff" / "handoff.yaml"), "submit", "--lane", "default",
         "--request-from", "req.md", "--response-to", "ans.md"],
        cwd=project, capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert (store / "tasks" / result.stdout.strip() / "task.json").is_file()
    assert not (project / "handoff" / "state").exists()


# -- submit --------------------------------------------------------------------------------


def test_there_are_example_task_files():
    assert len(EXAMPLE_TASKS) >= 3, EXAMPLE_TASKS


@pytest.mark.parametrize("task_file", EXAMPLE_TASKS, ids=[p.stem for p in EXAMPLE_TASKS])
def test_submit_each_example_task_file(workspace, task_file):
    definition = yaml.safe_load(task_file.read_text(encoding="utf-8"))
    result = workspace.run("--json", "submit", "--task", str(task_file), "--request-from", "request.md", "--response-to", "answer.md")
    payload = ok_json(result)
    assert result.stderr == ""  # no unknown-key warnings for our own examples
    task = payload["task"]
    assert task["correlation_id"] == task_file.stem
    assert f"-{task_file.stem}-" in task["id"]
    assert task["lane"] == definition["lane"]
    assert task["prompt"] == definition["prompt"]
    assert task["metadata"] == definition["metadata"]
    assert task["state"] == "queued"
    assert disk_task(workspace, task["id"]) == task
    # agent-lanes reads it back unchanged.
    theirs = workspace.run_agent_lanes("status", task["id"], "--json")
    assert theirs.returncode == 0, theirs.stderr
    assert json.loads(theirs.stdout)["task"]["metadata"] == definition["metadata"]


def test_submit_json_shape_and_plain_output(workspace):
    result = workspace.run("--json", "submit", "--lane", "review", "--request-from", "request.md",
                           "--response-to", "sub/answer.md", "--prompt", "look", "--metadata", "effort=high",
                           "--metadata", "expr=a=b", "--task-id", "my thing", "--source-agent", "me")
    payload = ok_json(result)
    assert set(payload) == {"task_id", "task"}
    task = payload["task"]
    assert payload["task_id"] == task["id"]
    assert set(task) == set(TASK_KEYS) and len(TASK_KEYS) == 24
    assert task["id"].endswith("-my-thing-" + task["request_sha256"][:12])
    assert task["request_sha256"] == hashlib.sha256(workspace.request.read_bytes()).hexdigest()
    assert task["request_path"] == str(workspace.request.resolve())
    assert task["response_path"] == str((workspace.root / "sub" / "answer.md").resolve())
    assert task["metadata"] == {"effort": "high", "expr": "a=b"}
    assert (task["lane"], task["prompt"], task["source_agent"], task["workspace_id"]) == ("review", "look", "me", "ws")
    assert task["state"] == "queued" and task["claim_token"] is None
    assert [e["type"] for e in disk_events(workspace, task["id"])] == ["created"]

    plain = workspace.run("submit", "--lane", "review", "--request-from", "request.md", "--response-to", "o.md")
    assert plain.returncode == 0 and plain.stderr == ""
    assert plain.stdout.count("\n") == 1
    assert disk_task(workspace, plain.stdout.strip())["lane"] == "review"


def test_submit_prompt_file_relative_to_the_task_file(workspace):
    folder = workspace.root / "defs"
    folder.mkdir()
    write(folder / "p.md", "prompt from a file\n")
    write(folder / "t.yaml", 'lane: "x"\nprompt_file: "p.md"\nrequest_from: "../request.md"\nresponse_to: "a.md"\n')
    payload = ok_json(workspace.run("--json", "submit", "--task", str(folder / "t.yaml"), "--request-from", "request.md", "--response-to", "a.md"))
    assert payload["task"]["prompt"] == "prompt from a file\n"
    assert payload["task"]["lane"] == "x"


# -- next / wait --lane ----------------------------------------------------------------------


def test_next_idle_json_matches_agent_lanes(workspace):
    store = workspace.store()
    busy = workspace.submit(lane="busy")
    store.claim(busy["id"], owner="w", lease_seconds=600)
    done = workspace.submit(lane="done")
    store.respond(done["id"], body="ok", reviewer="w")
    for lane, reason in (("empty", "no_task_submitted"), ("busy", "no_queued_task"), ("done", "no_queued_task")):
        ours = workspace.run("next", "--lane", lane, "--timeout", "0", "--json")
        theirs = workspace.run_agent_lanes("next", "--lane", lane, "--timeout", "0", "--json")
        assert theirs.returncode == 0, theirs.stderr
        payload = ok_json(ours)
        assert payload == json.loads(theirs.stdout)
        assert payload["status"] == "idle" and payload["reason"] == reason and payload["lane"] == lane
        assert set(payload) == {"status", "lane", "reason", "timeout_seconds", "message", "next_action"}
    plain = workspace.run("next", "--lane", "empty", "--timeout", "0")
    assert plain.returncode == 0 and plain.stdout == ""
    assert "No queued tasks found on lane empty" in plain.stderr


def test_next_skips_stale_input_and_returns_the_next_task(workspace):
    first_request = write(workspace.root / "first.md", "original\n")
    write(workspace.root / "second.md", "second\n")
    stale = cli_submit(workspace, request="first.md", response="a.md")["task_id"]
    good = cli_submit(workspace, request="second.md", response="b.md")["task_id"]
    write(first_request, "edited after submit\n")

    result = workspace.run("next", "--lane", "default", "--timeout", "0", "--json")
    payload = ok_json(result)
    assert payload["status"] == "task_available"
    assert payload["task"]["id"] == good
    assert [s["task_id"] for s in payload["stale_input"]] == [stale]
    assert "request hash mismatch" in payload["stale_input"][0]["reason"]
    warnings = [line for line in result.stderr.splitlines() if "stale input" in line]
    assert len(warnings) == 1 and stale in warnings[0] and warnings[0].startswith("lanes-tui: warning:")
    assert disk_task(workspace, stale)["state"] == "queued"  # reported, not touched

    # A deleted request is stale too.
    (workspace.root / "second.md").unlink()
    idle = ok_json(workspace.run("next", "--lane", "default", "--timeout", "0", "--json"))
    assert idle["status"] == "idle"
    assert {s["task_id"] for s in idle["stale_input"]} == {stale, good}


def test_next_vendor_filter_does_not_block_the_lane(workspace):
    for_claude = cli_submit(workspace, "--metadata", "required_vendor=claude")["task_id"]
    for_anyone = cli_submit(workspace, "--metadata", "required_vendor=any")["task_id"]
    payload = ok_json(workspace.run("next", "--lane", "default", "--vendor", "codex", "--timeout", "0", "--json"))
    assert payload["task"]["id"] == for_anyone
    payload = ok_json(workspace.run("next", "--lane", "default", "--vendor", "claude", "--timeout", "0", "--json"))
    assert payload["task"]["id"] == for_claude
    claimed = ok_json(workspace.run("next", "--lane", "default", "--vendor", "codex", "--claim", "--owner", "cx", "--timeout", "0", "--json"))
    assert claimed["task_id"] == for_anyone
    assert disk_task(workspace, for_claude)["state"] == "queued"
    # Nothing left for codex: idle, even though a claude task is queued.
    assert ok_json(workspace.run("next", "--lane", "default", "--vendor", "codex", "--timeout", "0", "--json"))["status"] == "idle"


def test_next_claim_claims_on_disk(workspace):
    task_id = cli_submit(workspace)["task_id"]
    payload = ok_json(workspace.run("next", "--lane", "default", "--claim", "--owner", "bob",
                                    "--lease-seconds", "600", "--timeout", "0", "--json"))
    assert payload["status"] == "claimed" and payload["task_id"] == task_id
    assert len(payload["claim_token"]) == 32 and int(payload["claim_token"], 16) >= 0
    on_disk = disk_task(workspace, task_id)
    assert on_disk["state"] == "claimed" and on_disk["claim_owner"] == "bob"
    assert on_disk["claim_token"] == payload["claim_token"]
    assert disk_events(workspace, task_id)[-1]["type"] == "claimed"
    # The token works for the next steps of a worker.
    assert workspace.run("renew", task_id, "--claim-token", payload["claim_token"]).returncode == 0
    assert ok_json(workspace.run("next", "--lane", "default", "--claim", "--timeout", "0", "--json"))["status"] == "idle"


def test_concurrent_next_claim_gives_each_task_to_one_worker(workspace):
    ids = {cli_submit(workspace, response=f"o{i}.md")["task_id"] for i in range(2)}
    procs = [start(workspace, "next", "--lane", "default", "--claim", "--owner", f"w{i}", "--timeout", "0", "--json") for i in range(5)]
    results = [finish(p) for p in procs]
    payloads = [json.loads(out) for code, out, err in results if code == 0]
    assert len(payloads) == 5, results
    claimed = [p for p in payloads if p["status"] == "claimed"]
    assert sorted(p["task_id"] for p in claimed) == sorted(ids)
    assert sum(p["status"] == "idle" for p in payloads) == 3
    for p in claimed:
        assert disk_task(workspace, p["task_id"])["claim_token"] == p["claim_token"]


def test_wait_lane_blocks_until_another_process_submits(workspace):
    waiter = start(workspace, "--json", "wait", "--lane", "default", "--timeout", "30", "--heartbeat-seconds", "0.05")
    try:
        # The first heartbeat means the waiter looked, found nothing and is blocked. If it
        # does not come, submitting anyway is fine: the waiter must find the task either way.
        read_stderr_line(waiter, timeout=10)
        task_id = cli_submit(workspace, "--prompt", "wake up")["task_id"]
        code, out, err = finish(waiter)
    finally:
        if waiter.poll() is None:
            waiter.kill()
    assert code == 0, err
    payload = json.loads(out)
    assert payload["status"] == "task_available" and payload["lane"] == "default"
    assert payload["task"]["id"] == task_id and payload["task"]["prompt"] == "wake up"
    assert "Traceback" not in err


def test_wait_id_returns_once_another_process_responds(workspace):
    task_id = cli_submit(workspace, response="answers/out.md")["task_id"]
    waiter = start(workspace, "wait", task_id, "--json", "--timeout", "30", "--heartbeat-seconds", "0.05")
    try:
        read_stderr_line(waiter, timeout=10)
        token = ok_json(workspace.run("--json", "claim", task_id, "--owner", "w"))["claim_token"]
        ok_json(workspace.run("--json", "respond", task_id, "--claim-token", token, "--body", "the answer", "--verdict", "accept"))
        code, out, err = finish(waiter)
    finally:
        if waiter.poll() is None:
            waiter.kill()
    assert code == 0, err
    payload = json.loads(out)
    assert set(payload) == {"status", "task_id", "response_path", "response"}
    assert payload["status"] == "completed" and payload["task_id"] == task_id
    assert payload["response"]["body"] == "the answer" and payload["response"]["verdict"] == "accept"
    answer = workspace.root / "answers" / "out.md"
    assert Path(payload["response_path"]) == answer
    assert answer.read_text(encoding="utf-8") == "the answer"


# -- claim / respond / operator verbs ---------------------------------------------------------


def test_claim_respond_round_trip_text_output(workspace):
    task_id = cli_submit(workspace)["task_id"]
    claimed = workspace.run("claim", task_id, "--owner", "me", "--lease-seconds", "900")
    assert claimed.returncode == 0, claimed.stderr
    lines = dict(line.split("=", 1) for line in claimed.stdout.splitlines())
    assert lines["task_id"] == task_id and len(lines["claim_token"]) == 32
    body = write(workspace.root / "body.md", "reviewed\n")
    responded = workspace.run("respond", task_id, "--claim-token", lines["claim_token"], "--file", str(body))
    assert responded.returncode == 0, responded.stderr
    assert "status=completed" in responded.stdout and f"task_id={task_id}" in responded.stdout
    assert disk_task(workspace, task_id)["state"] == "completed"
    response = json.loads((workspace.store_root / "tasks" / task_id / "response.json").read_text(encoding="utf-8"))
    assert response["body"] == "reviewed\n" and response["reviewer"] == "worker"


def test_respond_reads_stdin(workspace):
    task_id = cli_submit(workspace)["task_id"]
    result = workspace.run("--json", "respond", task_id, "--file", "-", input="from stdin")
    assert ok_json(result)["response"]["body"] == "from stdin"


def test_cancel_records_who_and_why(workspace):
    task_id = cli_submit(workspace)["task_id"]
    token = ok_json(workspace.run("--json", "claim", task_id, "--owner", "holder"))["claim_token"]
    payload = ok_json(workspace.run("--json", "cancel", task_id, "--reason", "no longer needed", "--by", "alice"))
    assert payload["status"] == "cancelled" and payload["task_id"] == task_id
    task = disk_task(workspace, task_id)
    assert task["state"] == "failed" and task["failure_reason"] == "cancelled"
    assert task["claim_token"] is None and task["claim_owner"] is None and task["failed_at"]
    event = disk_events(workspace, task_id)[-1]
    assert event["type"] == "cancelled"
    assert event["data"] == {"by": "alice", "reason": "no longer needed", "previous_state": "claimed", "previous_owner": "holder"}
    # The holder's token stops working.
    assert workspace.run("renew", task_id, "--claim-token", token).returncode == 1
    assert workspace.run("respond", task_id, "--claim-token", token, "--body", "late").returncode == 1
    # agent-lanes sees an ordinary failed task.
    theirs = workspace.run_agent_lanes("status", task_id, "--json")
    assert theirs.returncode == 0 and json.loads(theirs.stdout)["task"]["state"] == "failed"


def test_break_returns_the_task_to_the_queue_and_kills_the_token(workspace):
    task_id = cli_submit(workspace)["task_id"]
    token = ok_json(workspace.run("--json", "claim", task_id, "--owner", "stuck-worker"))["claim_token"]
    payload = ok_json(workspace.run("--json", "break", task_id, "--reason", "worker hung", "--by", "bob"))
    assert payload["status"] == "broken" and payload["task_id"] == task_id
    task = disk_task(workspace, task_id)
    assert task["state"] == "queued" and task["claim_token"] is None and task["claim_owner"] is None
    event = disk_events(workspace, task_id)[-1]
    assert event["type"] == "released"
    assert event["data"]["action"] == "break" and event["data"]["by"] == "bob"
    assert event["data"]["reason"] == "worker hung" and event["data"]["previous_owner"] == "stuck-worker"
    assert workspace.run("renew", task_id, "--claim-token", token).returncode == 1
    assert workspace.run("respond", task_id, "--claim-token", token, "--body", "late").returncode == 1
    assert disk_task(workspace, task_id)["state"] == "queued"
    assert ok_json(workspace.run("--json", "claim", task_id, "--owner", "fresh"))["claim_token"] != token


def test_requeue_creates_a_linked_task(workspace):
    original = cli_submit(workspace, "--prompt", "try this", "--metadata", "effort=low", "--metadata", "model_class=haiku", lane="work")
    old_id = original["task_id"]
    token = ok_json(workspace.run("--json", "claim", old_id))["claim_token"]
    ok_json(workspace.run("--json", "respond", old_id, "--claim-token", token, "--status", "failed", "--body", "crashed"))
    payload = ok_json(workspace.run("--json", "requeue", old_id, "--by", "carol", "--metadata", "effort=high"))
    assert payload["status"] == "requeued" and payload["requeued_from"] == old_id
    new = payload["task"]
    assert new["id"] != old_id and payload["task_id"] == new["id"]
    assert new["state"] == "queued" and new["lane"] == "work" and new["prompt"] == "try this"
    assert new["request_path"] == original["task"]["request_path"]
    assert new["response_path"] == original["task"]["response_path"]
    assert new["metadata"] == {"effort": "high", "model_class": "haiku", "requeued_from": old_id}
    assert disk_task(workspace, new["id"]) == new
    assert disk_task(workspace, old_id)["state"] == "failed"
    event = disk_events(workspace, old_id)[-1]
    assert event["type"] == "requeued" and event["data"] == {"by": "carol", "new_task_id": new["id"]}
    # The new task is claimable like any other.
    assert ok_json(workspace.run("next", "--lane", "work", "--timeout", "0", "--json"))["task"]["id"] == new["id"]


def test_archive_moves_only_terminal_tasks_and_dry_run_moves_nothing(workspace):
    store = workspace.store()
    queued = workspace.submit(name="q")["id"]
    claimed = workspace.submit(name="c")["id"]
    store.claim(claimed, owner="w", lease_seconds=600)
    completed = workspace.submit(name="d")["id"]
    store.respond(completed, body="done", reviewer="w")
    cancelled = workspace.submit(name="x")["id"]
    store.cancel(cancelled, by="op")
    tasks_dir = workspace.store_root / "tasks"
    archive_dir = workspace.store_root / "archive"
    everything = {queued, claimed, completed, cancelled}

    dry = ok_json(workspace.run("--json", "archive", "--older-than-days", "0", "--dry-run"))
    assert dry["dry_run"] is True and sorted(dry["archived"]) == sorted([completed, cancelled]) and dry["count"] == 2
    assert {p.name for p in tasks_dir.iterdir()} == everything
    assert not archive_dir.exists() or not any(archive_dir.iterdir())

    none_yet = ok_json(workspace.run("--json", "archive", "--older-than-days", "1"))
    assert none_yet["archived"] == [] and {p.name for p in tasks_dir.iterdir()} == everything

    done = ok_json(workspace.run("--json", "archive", "--older-than-days", "0"))
    assert sorted(done["archived"]) == sorted([completed, cancelled])
    assert Path(done["archive_path"]) == archive_dir.resolve()
    assert {p.name for p in tasks_dir.iterdir()} == {queued, claimed}
    assert {p.name for p in archive_dir.iterdir()} == {completed, cancelled}
    assert json.loads((archive_dir / completed / "response.json").read_text(encoding="utf-8"))["body"] == "done"
    listed = ok_json(workspace.run("--json", "list"))
    assert {t["id"] for t in listed["tasks"]} == {queued, claimed}
    # agent-lanes ignores archive/ and still reads the live tasks.
    theirs = workspace.run_agent_lanes("list", "--json")
    assert theirs.returncode == 0 and {t["id"] for t in json.loads(theirs.stdout)["tasks"]} == {queued, claimed}

    plain = workspace.run("archive", "--older-than-days", "0", "--dry-run")
    assert plain.returncode == 0 and plain.stdout.startswith("would archive 0 task(s)")


def test_status_and_list(workspace):
    task_id = cli_submit(workspace)["task_id"]
    one = ok_json(workspace.run("status", task_id, "--json"))
    assert one["status"] == "ok" and one["task"]["id"] == task_id
    assert {"response_exists", "lease_expired", "missing_response", "last_event", "navigation", "next_action"} <= set(one["task"])
    summary = ok_json(workspace.run("status", "--all", "--json"))
    assert summary["count"] == 1 and summary["summary"]["queued"] == 1
    assert set(summary["summary"]) == {"queued", "claimed", "completed", "failed", "stale_claims", "missing_response"}
    listed = ok_json(workspace.run("list", "--lane", "default", "--json"))
    assert listed["count"] == 1 and [t["id"] for t in listed["tasks"]] == [task_id]
    assert ok_json(workspace.run("list", "--lane", "other", "--json"))["count"] == 0


# -- flags, version, demo -----------------------------------------------------------------------


def test_json_flag_before_or_after_the_subcommand(workspace):
    task_id = cli_submit(workspace)["task_id"]
    completed = cli_submit(workspace, response="done.md")["task_id"]
    assert workspace.run("respond", completed, "--body", "fine").returncode == 0

    for argv in (["wait", completed, "--timeout", "5"], ["next", "--lane", "nothing", "--timeout", "0"]):
        before, after = workspace.run("--json", *argv), workspace.run(*argv, "--json")
        assert ok_json(before) == ok_json(after)
    for argv in (["list"], ["status", "--all"], ["status", task_id]):
        before, after = ok_json(workspace.run("--json", *argv)), ok_json(workspace.run(*argv, "--json"))
        assert set(before) == set(after) and before["status"] == after["status"] == "ok"
    # Commands whose plain output is not JSON switch to JSON in either position.
    for position in ("before", "after"):
        args = ["submit", "--lane", "default", "--request-from", "request.md", "--response-to", f"{position}.md"]
        args = ["--json", *args] if position == "before" else [*args, "--json"]
        submitted = ok_json(workspace.run(*args))
        assert set(submitted) == {"task_id", "task"}
        args = ["claim", submitted["task_id"]]
        args = ["--json", *args] if position == "before" else [*args, "--json"]
        assert ok_json(workspace.run(*args))["status"] == "claimed"
    plain = workspace.run("submit", "--lane", "default", "--request-from", "request.md", "--response-to", "plain.md")
    with pytest.raises(ValueError):
        json.loads(plain.stdout)


def test_version(workspace, tmp_path):
    result = workspace.run("--version")
    assert result.returncode == 0 and result.stdout == f"lanes-tui {__version__}\n"
    module = subprocess.run([sys.executable, "-m", "lanes_tui", "--version"], cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert module.returncode == 0 and module.stdout.strip() == f"lanes-tui {__version__}"
    script = Path(sys.executable).parent / "lanes-tui"
    if script.exists():  # the console script installed by pip
        installed = subprocess.run([str(script), "--version"], cwd=tmp_path, capture_output=True, text=True, timeout=30)
        assert installed.returncode == 0 and installed.stdout.strip() == f"lanes-tui {__version__}"


def test_no_subcommand_without_a_terminal_says_the_dashboard_needs_one(workspace):
    result = workspace.run()
    assert result.returncode == 64 and result.stdout == ""
    assert result.stderr == "lanes-tui: the dashboard needs a terminal; for CI and servers run `lanes-tui --no-ui`\n"
    assert "usage: lanes-tui" in workspace.run("--help").stdout


@pytest.mark.parametrize("command", ["demo", "self-test"])
def test_demo_round_trip(tmp_path, command):
    env = {**os.environ, "DEMO_AGENT_DELAY": "0"}  # the simulated agent's pauses are for humans
    plain = subprocess.run([*LANES_TUI, command], cwd=tmp_path, capture_output=True, text=True, timeout=60, env=env)
    assert plain.returncode == 0, plain.stderr
    assert "Traceback" not in plain.stderr
    assert "demo: 3 of 3 task(s) completed by the simulated agent" in plain.stdout
    assert "supervisor_stopped reason=drained" in plain.stdout
    as_json = subprocess.run([*LANES_TUI, command, "--json"], cwd=tmp_path, capture_output=True, text=True,
                             timeout=60, env=env)
    payload = ok_json(as_json)
    assert payload["status"] == "ok" and payload["workspace"] is None and payload["exit_code"] == 0
    assert len(payload["tasks"]) == 3
    assert {row["state"] for row in payload["tasks"]} == {"completed"}
    assert all(row["attempts"] == 1 and row["tokens_out"] > 0 for row in payload["tasks"])
    assert sorted(row["id"].split("-", 1)[1].rsplit("-", 1)[0] for row in payload["tasks"]) == [p.stem for p in EXAMPLE_TASKS]
    assert list(tmp_path.iterdir()) == []  # the scratch queue lives elsewhere and is removed


@pytest.mark.parametrize("argv", [["demo", "--no-ui"], ["--no-ui", "demo"]])
def test_demo_no_ui_before_or_after_the_subcommand(tmp_path, argv):
    env = {**os.environ, "DEMO_AGENT_DELAY": "0"}
    done = subprocess.run([*LANES_TUI, *argv], cwd=tmp_path, capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    assert "demo: 3 of 3 task(s) completed by the simulated agent" in done.stdout


def test_store_flag_works_without_a_config_except_for_submit(workspace, tmp_path):
    task_id = workspace.submit()["id"]
    workspace.config.unlink()
    listed = ok_json(workspace.run("--store", str(workspace.store_root), "--json", "list"))
    assert [t["id"] for t in listed["tasks"]] == [task_id]
    assert ok_json(workspace.run("--store", str(workspace.store_root), "--json", "claim", task_id))["status"] == "claimed"
    # submit needs workspace_id and workspace_root from the config.
    refused = workspace.run("--store", str(workspace.store_root), "submit", "--lane", "default",
                            "--request-from", "request.md", "--response-to", "o.md")
    assert refused.returncode == 4 and refused.stderr.startswith("lanes-tui: config file does not exist")


def test_fail_records_the_holders_failure_so_agent_lanes_sees_the_reason(workspace):
    """Issue 10: an external worker reports a failure with `fail`; agent-lanes reads it as one."""
    import json as _json

    task = workspace.submit()
    token = workspace.store().claim(task["id"], owner="ext", lease_seconds=60)["claim_token"]
    wrong = workspace.run("fail", task["id"], "--claim-token", "not-it", "--error", "x")
    assert wrong.returncode == 1 and workspace.store().read_task(task["id"])["state"] == "claimed"
    empty = workspace.run("fail", task["id"], "--claim-token", token, "--error", "  ")
    assert empty.returncode == 5
    done = workspace.run("fail", task["id"], "--claim-token", token, "--error", "tests failed: 3 of 120", "--json")
    assert done.returncode == 0, done.stderr
    out = _json.loads(done.stdout)
    assert out["status"] == "failed" and out["failure_reason"] == "tests failed: 3 of 120"
    seen = _json.loads(workspace.run_agent_lanes("status", task["id"]).stdout)
    assert seen["task"]["state"] == "failed" and seen["task"]["failure_reason"] == "tests failed: 3 of 120"
    again = workspace.run("fail", task["id"], "--claim-token", token, "--error", "twice")
    assert again.returncode == 1  # a response is recorded at most once (G4)
