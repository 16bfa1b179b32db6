"""Wire compatibility with the real agent-lanes 0.1.1 CLI on one shared queue.

Every test drives both real command lines (`workspace.run` for lanes-tui,
`workspace.run_agent_lanes` for agent-lanes) against the same store folder and
checks what one tool wrote is read, honoured and reported the same way by the
other. The claim race between both libraries lives in test_race.py.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Callable

import pytest

from lanes_tui.core.wire import TASK_KEYS
from lanes_tui.storage.files.backend import FileBackend

AGENT_LANES_BIN = str(Path(sys.executable).parent / "agent-lanes")
TIME_DEPENDENT = {"last_event_age_seconds", "claimed_age_seconds", "seconds_until_lease_expiry"}
RESPONSE_KEYS = {
    "task_id", "reviewer", "status", "body", "reviewed_request_sha256", "request_changed_before_response",
    "follow_up_required", "verdict", "blocking_count", "nonblocking_count", "metadata", "created_at",
}
EVENT_KEYS = {"created_at", "data", "message", "type"}
SIX_DIGIT_TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


# -- helpers -------------------------------------------------------------------------------


def ok_json(proc: subprocess.CompletedProcess) -> Any:
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
    return json.loads(proc.stdout)


def refused(proc: subprocess.CompletedProcess, pattern: str) -> None:
    """A handled refusal: exit 1 and a one-line reason on stderr, no traceback."""
    assert proc.returncode == 1, f"exit {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
    assert "Traceback" not in proc.stderr
    assert re.search(pattern, proc.stderr), proc.stderr


def submit_args(ws, lane: str, response: str, prompt: str) -> list[str]:
    return [
        "submit", "--lane", lane, "--request-from", str(ws.request),
        "--response-to", str(ws.root / response), "--prompt", prompt, "--json",
    ]


def lt_submit(ws, lane: str = "default", response: str = "out.md", prompt: str = "do it") -> dict:
    return ok_json(ws.run(*submit_args(ws, lane, response, prompt)))


def al_submit(ws, lane: str = "default", response: str = "out.md", prompt: str = "do it") -> dict:
    return ok_json(ws.run_agent_lanes(*submit_args(ws, lane, response, prompt)))


def task_dir(ws, task_id: str) -> Path:
    return ws.store_root / "tasks" / task_id


def read_task_file(ws, task_id: str) -> dict:
    return json.loads((task_dir(ws, task_id) / "task.json").read_text(encoding="utf-8"))


def rewrite_task_file(ws, task_id: str, mutate: Callable[[dict], None]) -> None:
    """Edit a task.json the way agent-lanes writes one: indent=2, sort_keys, newline,
    through a temp file renamed into place."""
    path = task_dir(ws, task_id) / "task.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    mutate(data)
    tmp = path.with_name(f".task.json.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.chmod(0o600)
    os.replace(tmp, path)


def drop_fraction(stamp: str) -> str:
    """agent-lanes' form of a timestamp whose microseconds are 0."""
    head, dot, _ = stamp.partition(".")
    assert dot, stamp
    return head + "Z"


def submit_at(ws, moment: datetime, *, lane: str, name: str) -> str:
    """A task created at a chosen instant (its id and created_at agree, as in real stores)."""
    store = FileBackend(ws.store_root, clock=lambda: moment)
    return store.create_task(
        workspace_id="ws", correlation_id=lane, source_agent="test", lane=lane,
        workspace_root=ws.root, request_path=ws.request, response_path=ws.root / f"{name}.md",
        prompt=name, metadata={},
    )["id"]


def event_types(ws, task_id: str) -> list[str]:
    lines = (task_dir(ws, task_id) / "events.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["type"] for line in lines if line]


def mask_times(obj: Any) -> Any:
    """Replace time-dependent view fields by their type: presence and type still compared."""
    if isinstance(obj, dict):
        return {
            k: (type(v).__name__ if k in TIME_DEPENDENT else mask_times(v)) for k, v in obj.items()
        }
    if isinstance(obj, list):
        return [mask_times(v) for v in obj]
    return obj


def shape(obj: Any) -> Any:
    """Keys (recursively) and leaf types of a JSON value."""
    if isinstance(obj, dict):
        return {k: shape(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [shape(v) for v in obj[:1]]
    return type(obj).__name__


@pytest.fixture
def spawn():
    """Start a background CLI process; anything still running at teardown is killed."""
    started: list[subprocess.Popen] = []

    def start(argv: list[str], ws) -> subprocess.Popen:
        proc = subprocess.Popen(argv, cwd=ws.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def finish(proc: subprocess.Popen, timeout: float = 30) -> subprocess.CompletedProcess:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"{proc.args} did not finish in {timeout}s\nstdout: {out}\nstderr: {err}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def lanes_tui_argv(ws, *args: str) -> list[str]:
    return [sys.executable, "-m", "lanes_tui", "--config", str(ws.config), *args]


def agent_lanes_argv(ws, *args: str) -> list[str]:
    return [AGENT_LANES_BIN, "--config", str(ws.config), *args]


# -- 1 and 2: full round trips in both directions ---------------------------------------------


def test_agent_lanes_submits_lanes_tui_answers_agent_lanes_waits(workspace, spawn):
    ws = workspace
    submitted = al_submit(ws, lane="review", response="answers/review.md", prompt="review it")
    task_id = submitted["task_id"]

    # The orchestrator blocks in agent-lanes' own wait before anyone answers.
    waiter = spawn(agent_lanes_argv(ws, "wait", task_id, "--json", "--timeout", "60", "--quiet"), ws)

    found = ok_json(ws.run("next", "--lane", "review", "--timeout", "0", "--json"))
    assert found["status"] == "task_available" and found["task"]["id"] == task_id
    claim = ok_json(ws.run("claim", task_id, "--owner", "lt-worker", "--lease-seconds", "600", "--json"))
    assert claim["status"] == "claimed" and re.fullmatch(r"[0-9a-f]{32}", claim["claim_token"])
    body = "# Review\n\nLooks good ✓ — naïve café.\n"
    respond = ok_json(ws.run(
        "respond", task_id, "--claim-token", claim["claim_token"], "--body", body,
        "--reviewer", "lt-worker", "--verdict", "accept", "--json",
    ))
    assert respond["status"] == "completed"

    waited = ok_json(finish(waiter))
    assert waited["status"] == "completed"
    assert waited["task_id"] == task_id
    assert waited["response"]["body"] == body
    assert waited["response"]["reviewer"] == "lt-worker"
    assert waited["response"]["verdict"] == "accept"
    assert waited["response"]["reviewed_request_sha256"] == submitted["task"]["request_sha256"]
    out = ws.root / "answers" / "review.md"
    assert waited["response_path"] == str(out)
    assert out.read_text(encoding="utf-8") == body
    # agent-lanes sees the task exactly as lanes-tui left it.
    status = ok_json(ws.run_agent_lanes("status", task_id, "--json"))["task"]
    assert status["state"] == "completed" and status["claim_owner"] == "lt-worker"
    assert status["response_exists"] is True and status["missing_response"] is False
    assert event_types(ws, task_id) == ["created", "claimed", "response"]


def test_lanes_tui_submits_agent_lanes_answers_lanes_tui_waits(workspace, spawn):
    ws = workspace
    submitted = lt_submit(ws, lane="qa", response="answers/qa.md", prompt="answer it")
    task_id = submitted["task_id"]
    waiter = spawn(lanes_tui_argv(ws, "wait", task_id, "--json", "--timeout", "60", "--quiet"), ws)

    found = ok_json(ws.run_agent_lanes("next", "--lane", "qa", "--timeout", "0", "--json", "--quiet"))
    assert found["status"] == "task_available" and found["task"]["id"] == task_id
    claim = ok_json(ws.run_agent_lanes("claim", task_id, "--owner", "al-worker", "--lease-seconds", "900", "--json"))
    token = claim["claim_token"]
    renew = ok_json(ws.run_agent_lanes("renew", task_id, "--claim-token", token, "--lease-seconds", "900", "--json"))
    assert renew["status"] == "renewed" and renew["claim_token"] == token
    ok_json(ws.run_agent_lanes("event", task_id, "--type", "headless_started", "--message", "go", "--data", "pid=42", "--json"))
    body = "The answer is 42.\nSecond line ünïcode.\n"
    ok_json(ws.run_agent_lanes(
        "respond", task_id, "--claim-token", token, "--file", "-", "--reviewer", "al-worker",
        "--verdict", "accept-with-follow-ups", "--blocking-count", "0", "--nonblocking-count", "2",
        "--follow-up-required", "--metadata", "model_used=opus", "--json", input=body,
    ))

    waited = ok_json(finish(waiter))
    assert waited["status"] == "completed"
    assert waited["task_id"] == task_id
    response = waited["response"]
    assert response["body"] == body
    assert response["reviewer"] == "al-worker"
    assert response["verdict"] == "accept-with-follow-ups"
    assert (response["blocking_count"], response["nonblocking_count"]) == (0, 2)
    assert response["follow_up_required"] is True
    assert response["metadata"] == {"model_used": "opus"}
    out = ws.root / "answers" / "qa.md"
    assert waited["response_path"] == str(out)
    assert out.read_text(encoding="utf-8") == body
    status = ok_json(ws.run("status", task_id, "--json"))["task"]
    assert status["state"] == "completed" and status["claim_owner"] == "al-worker"
    assert status["last_event"]["type"] == "response"
    assert event_types(ws, task_id) == ["created", "claimed", "renewed", "headless_started", "response"]


# -- 3: the JSON both tools print ----------------------------------------------------------------


def _mixed_store(ws) -> dict[str, str]:
    """One store with every state, written by both tools; returns name -> task id."""
    ids: dict[str, str] = {}
    ids["queued_al"] = al_submit(ws, lane="review", response="a.md")["task_id"]
    ids["queued_lt"] = lt_submit(ws, lane="review", response="b.md")["task_id"]
    ok_json(ws.run("submit", "--lane", "qa", "--request-from", str(ws.request), "--response-to",
                   str(ws.root / "c.md"), "--prompt", "meta", "--metadata", "effort=high",
                   "--metadata", "required_vendor=claude", "--task-id", "corr-x", "--json"))
    ids["claimed"] = lt_submit(ws, lane="qa", response="d.md")["task_id"]
    ok_json(ws.run_agent_lanes("claim", ids["claimed"], "--owner", "al", "--lease-seconds", "3600", "--json"))
    ids["expired"] = al_submit(ws, lane="qa", response="e.md")["task_id"]
    ok_json(ws.run("claim", ids["expired"], "--owner", "lt", "--lease-seconds", "0.001", "--json"))
    ids["completed"] = al_submit(ws, lane="review", response="f.md")["task_id"]
    token = ok_json(ws.run("claim", ids["completed"], "--owner", "lt", "--json"))["claim_token"]
    ok_json(ws.run("respond", ids["completed"], "--claim-token", token, "--body", "done", "--json"))
    ids["failed"] = lt_submit(ws, lane="review", response="g.md")["task_id"]
    token = ok_json(ws.run_agent_lanes("claim", ids["failed"], "--json"))["claim_token"]
    ok_json(ws.run_agent_lanes("respond", ids["failed"], "--claim-token", token, "--status", "failed",
                               "--body", "it broke", "--json"))
    ids["cancelled"] = al_submit(ws, lane="qa", response="h.md")["task_id"]
    ok_json(ws.run("cancel", ids["cancelled"], "--reason", "not needed", "--json"))
    return ids


def test_listing_and_status_json_match_agent_lanes(workspace):
    ws = workspace
    ids = _mixed_store(ws)
    queries = [
        ("list", "--json"),
        ("list", "--lane", "qa", "--json"),
        ("list", "--active-only", "--json"),
        ("status", "--all", "--json"),
        ("status", "--all", "--lane", "review", "--json"),
        ("status", "--all", "--active-only", "--json"),
        *(("status", task_id, "--json") for task_id in ids.values()),
        ("next", "--lane", "nobody-here", "--timeout", "0", "--json", "--quiet"),
    ]
    for query in queries:
        ours = ok_json(ws.run(*query))
        theirs = ok_json(ws.run_agent_lanes(*query))
        assert mask_times(ours) == mask_times(theirs), query

    everything = ok_json(ws.run("status", "--all", "--json"))
    assert everything["count"] == len(ids) + 1
    assert everything["summary"] == {
        "queued": 3, "claimed": 2, "completed": 1, "failed": 2, "stale_claims": 1, "missing_response": 0,
    }
    views = {v["id"]: v for v in everything["tasks"]}
    assert views[ids["expired"]]["lease_expired"] is True
    assert isinstance(views[ids["claimed"]]["seconds_until_lease_expiry"], int)
    assert views[ids["cancelled"]]["failure_reason"] == "cancelled"
    # Listing order is created_at order in both tools.
    assert [v["id"] for v in everything["tasks"]] == sorted(views, key=lambda i: views[i]["created_at"])


def test_verb_json_key_sets_match_agent_lanes(workspace):
    ws = workspace
    outputs: dict[str, dict[str, Any]] = {}
    for tool, run in (("lt", ws.run), ("al", ws.run_agent_lanes)):
        out: dict[str, Any] = {}
        out["submit"] = ok_json(run(*submit_args(ws, f"lane-{tool}", f"{tool}.md", "shape")))
        task_id = out["submit"]["task_id"]
        out["claim"] = ok_json(run("claim", task_id, "--owner", tool, "--lease-seconds", "600", "--json"))
        token = out["claim"]["claim_token"]
        out["renew"] = ok_json(run("renew", task_id, "--claim-token", token, "--lease-seconds", "700", "--json"))
        out["event"] = ok_json(run("event", task_id, "--type", "note", "--message", "m", "--data", "k=v", "--json"))
        out["release"] = ok_json(run("release", task_id, "--claim-token", token, "--reason", "later", "--json"))
        token = ok_json(run("claim", task_id, "--owner", tool, "--json"))["claim_token"]
        out["respond"] = ok_json(run(
            "respond", task_id, "--claim-token", token, "--body", "b", "--verdict", "needs-revision",
            "--blocking-count", "1", "--nonblocking-count", "0", "--metadata", "tokens_in=5", "--json",
        ))
        outputs[tool] = out
    for verb in ("submit", "claim", "renew", "event", "release", "respond"):
        lt, al = outputs["lt"][verb], outputs["al"][verb]
        assert shape(lt) == shape(al), verb
        assert set(lt) == set(al), verb
        if "status" in al:
            assert lt["status"] == al["status"], verb
        if "task" in al:
            assert set(lt["task"]) == set(al["task"]) == set(TASK_KEYS), verb
            assert lt["task"]["state"] == al["task"]["state"], verb
    assert set(outputs["lt"]["respond"]["response"]) == set(outputs["al"]["respond"]["response"]) == RESPONSE_KEYS
    assert outputs["lt"]["respond"]["queue_depth"] == outputs["al"]["respond"]["queue_depth"] == 0


def test_each_tool_reads_the_others_timestamps(workspace):
    """agent-lanes drops a zero fraction; we always write 6 digits. Each reads the other."""
    ws = workspace
    al_id = al_submit(ws, lane="t")["task_id"]
    lt_id = lt_submit(ws, lane="t")["task_id"]
    zero = drop_fraction(read_task_file(ws, al_id)["created_at"])
    rewrite_task_file(ws, al_id, lambda t: t.update(created_at=zero, updated_at=zero))
    assert SIX_DIGIT_TS.match(read_task_file(ws, lt_id)["created_at"])
    for task_id in (al_id, lt_id):
        ours = ok_json(ws.run("status", task_id, "--json"))["task"]
        theirs = ok_json(ws.run_agent_lanes("status", task_id, "--json"))["task"]
        assert mask_times(ours) == mask_times(theirs)
    assert ok_json(ws.run("status", al_id, "--json"))["task"]["created_at"] == zero
    # A claim on the zero-fraction task keeps its created_at verbatim and writes 6 digits itself.
    claimed = ok_json(ws.run("claim", al_id, "--json"))["task"]
    on_disk = read_task_file(ws, al_id)
    assert on_disk["created_at"] == zero and claimed["created_at"] == zero
    for key in ("claimed_at", "lease_expires_at", "updated_at"):
        assert SIX_DIGIT_TS.match(on_disk[key]), (key, on_disk[key])
    ok_json(ws.run_agent_lanes("renew", al_id, "--claim-token", claimed["claim_token"], "--json"))
    ok_json(ws.run_agent_lanes("respond", al_id, "--claim-token", claimed["claim_token"], "--body", "x", "--json"))
    assert ok_json(ws.run("status", al_id, "--json"))["task"]["state"] == "completed"


# -- 4: mixed timestamp formats order and parse the same in both tools --------------------------------


def _next_id(run, lane: str) -> str | None:
    payload = ok_json(run("next", "--lane", lane, "--timeout", "0", "--json", "--quiet"))
    return payload["task"]["id"] if payload["status"] == "task_available" else None


def at(second: int, micro: int = 0) -> datetime:
    return datetime(2020, 1, 1, 0, 0, second, micro, tzinfo=UTC)


def test_mixed_timestamps_oldest_first_in_both_tools(workspace):
    ws = workspace
    lane = "mix"
    moments = {
        "D": at(0),  # oldest, written without a fraction
        "F": at(1, 500000),  # claimed with a live whole-second lease: skipped by both
        "B": at(2, 500000),
        "A": at(3),  # no fraction, in the middle
        "E": at(4, 500000),  # claimed, lease expired (whole-second stamps): claimable
        "C": at(5, 1),
    }
    # (No whole-second stamp shares its second with a fractional one here: agent-lanes
    # sorts strings, and "..:03Z" sorts after "..:03.5Z"; that case is the next test.)
    ids = {name: submit_at(ws, moments[name], lane=lane, name=name) for name in ("C", "A", "E", "B", "F", "D")}
    for name in ("D", "A"):
        rewrite_task_file(ws, ids[name], lambda t: t.update(
            created_at=drop_fraction(t["created_at"]), updated_at=drop_fraction(t["updated_at"])))
    assert read_task_file(ws, ids["D"])["created_at"] == "2020-01-01T00:00:00Z"
    ok_json(ws.run_agent_lanes("claim", ids["F"], "--owner", "holder", "--lease-seconds", "3600", "--json"))
    ok_json(ws.run("claim", ids["E"], "--owner", "dead", "--lease-seconds", "60", "--json"))
    rewrite_task_file(ws, ids["F"], lambda t: t.update(lease_expires_at="2999-01-01T00:00:00Z"))
    rewrite_task_file(
        ws, ids["E"],
        lambda t: t.update(claimed_at="2020-01-01T00:00:05Z", lease_expires_at="2020-01-01T00:00:06Z"),
    )

    listed = [v["id"] for v in ok_json(ws.run("list", "--lane", lane, "--json"))["tasks"]]
    assert listed == [ids[n] for n in moments]
    assert listed == [v["id"] for v in ok_json(ws.run_agent_lanes("list", "--lane", lane, "--json"))["tasks"]]
    views = {v["id"]: v for v in ok_json(ws.run("status", "--all", "--json"))["tasks"]}
    assert views[ids["E"]]["lease_expired"] is True and views[ids["F"]]["lease_expired"] is False
    assert views[ids["F"]]["seconds_until_lease_expiry"] > 10**9

    assert _next_id(ws.run, lane) == _next_id(ws.run_agent_lanes, lane) == ids["D"]
    got = ok_json(ws.run("next", "--lane", lane, "--claim", "--owner", "lt", "--timeout", "0", "--json"))
    assert got["status"] == "claimed" and got["task_id"] == ids["D"]
    assert _next_id(ws.run, lane) == _next_id(ws.run_agent_lanes, lane) == ids["B"]
    ok_json(ws.run_agent_lanes("claim", ids["B"], "--owner", "al", "--json"))
    assert _next_id(ws.run, lane) == _next_id(ws.run_agent_lanes, lane) == ids["A"]
    got = ok_json(ws.run("next", "--lane", lane, "--claim", "--owner", "lt", "--timeout", "0", "--json"))
    assert got["task_id"] == ids["A"]
    assert _next_id(ws.run, lane) == _next_id(ws.run_agent_lanes, lane) == ids["E"]
    taken = ok_json(ws.run_agent_lanes("claim", ids["E"], "--owner", "al", "--json"))
    assert taken["task"]["claim_owner"] == "al"
    got = ok_json(ws.run("next", "--lane", lane, "--claim", "--owner", "lt", "--timeout", "0", "--json"))
    assert got["task_id"] == ids["C"]
    assert _next_id(ws.run, lane) is None and _next_id(ws.run_agent_lanes, lane) is None
    # F's far-future whole-second lease is parsed as live by both tools.
    refused(ws.run("claim", ids["F"], "--json"), "active lease held by holder")
    refused(ws.run_agent_lanes("claim", ids["F"], "--json"), "active lease held by holder")
    # Zero-fraction timestamps written by others survive our rewrites untouched.
    assert read_task_file(ws, ids["D"])["created_at"] == "2020-01-01T00:00:00Z"
    assert read_task_file(ws, ids["A"])["created_at"] == "2020-01-01T00:00:03Z"


def test_whole_second_task_is_claimed_before_a_later_one_in_the_same_second(workspace):
    """"..:10Z" is older than "..:10.5Z" though it sorts after it as a string ('Z' > '.').

    agent-lanes 0.1.1 string-sorts and would hand out the later task first; we must
    not. Listings keep agent-lanes' order so its output stays byte-identical.
    """
    ws = workspace
    later = submit_at(ws, at(10, 500000), lane="sec", name="later")
    older = submit_at(ws, at(10), lane="sec", name="older")
    rewrite_task_file(ws, older, lambda t: t.update(created_at="2020-01-01T00:00:10Z", updated_at="2020-01-01T00:00:10Z"))
    assert _next_id(ws.run, "sec") == older
    got = ok_json(ws.run("next", "--lane", "sec", "--claim", "--timeout", "0", "--json"))
    assert got["task_id"] == older and got["task"]["created_at"] == "2020-01-01T00:00:10Z"
    assert _next_id(ws.run, "sec") == later
    ours = [v["id"] for v in ok_json(ws.run("list", "--lane", "sec", "--json"))["tasks"]]
    assert ours == [v["id"] for v in ok_json(ws.run_agent_lanes("list", "--lane", "sec", "--json"))["tasks"]]


# -- 5: legacy checkpoint_id ------------------------------------------------------------------------


def test_legacy_checkpoint_id_task_is_read_claimed_and_answered(workspace):
    ws = workspace
    task_id = al_submit(ws, lane="legacy", response="legacy.md")["task_id"]

    def to_legacy(task: dict) -> None:
        task["checkpoint_id"] = "cp-7"
        del task["correlation_id"]

    rewrite_task_file(ws, task_id, to_legacy)
    assert "correlation_id" not in read_task_file(ws, task_id)

    ours = ok_json(ws.run("status", task_id, "--json"))["task"]
    assert ours["correlation_id"] == "cp-7" and "checkpoint_id" not in ours
    assert mask_times(ours) == mask_times(ok_json(ws.run_agent_lanes("status", task_id, "--json"))["task"])
    listed = ok_json(ws.run("list", "--lane", "legacy", "--json"))["tasks"]
    assert [t["correlation_id"] for t in listed] == ["cp-7"]
    assert _next_id(ws.run, "legacy") == task_id

    claim = ok_json(ws.run("claim", task_id, "--owner", "lt", "--json"))
    assert claim["task"]["correlation_id"] == "cp-7"
    rewritten = read_task_file(ws, task_id)
    assert set(rewritten) == set(TASK_KEYS) and rewritten["correlation_id"] == "cp-7"
    respond = ok_json(ws.run("respond", task_id, "--claim-token", claim["claim_token"], "--body", "ok", "--json"))
    assert respond["correlation_id"] == "cp-7" and respond["status"] == "completed"
    waited = ok_json(ws.run_agent_lanes("wait", task_id, "--json", "--timeout", "10"))
    assert waited["response"]["body"] == "ok"
    assert (ws.root / "legacy.md").read_text(encoding="utf-8") == "ok"


# -- 6: files on disk ----------------------------------------------------------------------------------


def _assert_agent_lanes_json_bytes(path: Path) -> dict:
    data = path.read_bytes()
    assert data.isascii(), path
    parsed = json.loads(data)
    assert data.decode("ascii") == json.dumps(parsed, indent=2, sort_keys=True) + "\n", path
    return parsed


def _assert_event_lines(path: Path) -> list[dict]:
    text = path.read_bytes().decode("ascii")
    assert text.endswith("\n")
    events = []
    for line in text[:-1].split("\n"):
        event = json.loads(line)
        assert line == json.dumps(event, sort_keys=True), line
        assert set(event) == EVENT_KEYS
        events.append(event)
    return events


def _modes(root: Path) -> tuple[dict[str, int], dict[str, int]]:
    dirs, files = {}, {}
    for folder, subdirs, names in os.walk(root):
        rel = os.path.relpath(folder, root)
        dirs[rel] = stat.S_IMODE(os.stat(folder).st_mode)
        for name in names:
            files[os.path.join(rel, name)] = stat.S_IMODE(os.lstat(os.path.join(folder, name)).st_mode)
    return dirs, files


def _lifecycle(run, ws, lane: str, prompt: str) -> dict[str, str]:
    """Every writing verb once, all through one tool's CLI."""
    ids = {}
    ids["answered"] = ok_json(run(*submit_args(ws, lane, f"{lane}-1.md", prompt)))["task_id"]
    token = ok_json(run("claim", ids["answered"], "--owner", "w", "--json"))["claim_token"]
    ok_json(run("renew", ids["answered"], "--claim-token", token, "--json"))
    ok_json(run("release", ids["answered"], "--claim-token", token, "--reason", "r", "--json"))
    token = ok_json(run("claim", ids["answered"], "--owner", "w", "--json"))["claim_token"]
    ok_json(run("event", ids["answered"], "--type", "note", "--message", "héllo ✓", "--data", "k=ü", "--json"))
    ok_json(run("respond", ids["answered"], "--claim-token", token, "--body", "réponse ✓",
                "--metadata", "model_used=ö", "--json"))
    ids["failed"] = ok_json(run(*submit_args(ws, lane, f"{lane}-2.md", prompt)))["task_id"]
    ok_json(run("respond", ids["failed"], "--status", "failed", "--body", "nope ✗", "--json"))
    ids["queued"] = ok_json(run(*submit_args(ws, lane, f"{lane}-3.md", prompt)))["task_id"]
    return ids


def test_files_written_by_lanes_tui_match_agent_lanes_format_and_modes(workspace, tmp_path):
    ws = workspace
    prompt = "Unicode prompt: naïve — ✓ \u2028 end"
    old_umask = os.umask(0)  # modes must come from the code, not from a friendly umask
    try:
        ours = _lifecycle(ws.run, ws, "fmt", prompt)
        ok_json(ws.run("list", "--json"))  # lanes-tui may write its cache beside tasks/
    finally:
        os.umask(old_umask)

    dirs, files = _modes(ws.store_root)
    assert dirs and all(mode == 0o700 for mode in dirs.values()), dirs
    assert files and all(mode == 0o600 for mode in files.values()), files
    assert not [name for name in files if name.endswith(".tmp")]
    assert stat.S_ISREG(os.lstat(ws.store_root / "lock").st_mode)

    for name, task_id in ours.items():
        folder = task_dir(ws, task_id)
        expected_files = {"task.json", "events.jsonl"} | ({"response.json"} if name != "queued" else set())
        assert set(os.listdir(folder)) == expected_files
        task = _assert_agent_lanes_json_bytes(folder / "task.json")
        assert set(task) == set(TASK_KEYS) and len(TASK_KEYS) == 24
        assert task["prompt"] == prompt
        for key in ("created_at", "updated_at", "claimed_at", "lease_expires_at", "completed_at", "failed_at"):
            assert task[key] is None or SIX_DIGIT_TS.match(task[key]), (key, task[key])
        events = _assert_event_lines(folder / "events.jsonl")
        assert events[0]["type"] == "created" and events[0]["data"] == {"lane": "fmt"}
        assert all(SIX_DIGIT_TS.match(e["created_at"]) for e in events)
        if name != "queued":
            response = _assert_agent_lanes_json_bytes(folder / "response.json")
            assert set(response) == RESPONSE_KEYS
    assert event_types(ws, ours["answered"]) == ["created", "claimed", "renewed", "released", "claimed", "note", "response"]
    index = ws.store_root / "indexes" / "correlations" / "ws--fmt.json"
    record = _assert_agent_lanes_json_bytes(index)
    assert record == {**record, "workspace_id": "ws", "correlation_id": "fmt", "task_id": ours["queued"]}
    assert set(record) == {"workspace_id", "correlation_id", "task_id", "updated_at"}

    # The same lifecycle through agent-lanes on a second workspace gives the same files and shapes.
    other = type(ws)(root=tmp_path / "ws2", config=tmp_path / "ws2" / "handoff" / "handoff.yaml",
                     store_root=tmp_path / "ws2" / "handoff" / "state", request=tmp_path / "ws2" / "request.md")
    other.config.parent.mkdir(parents=True)
    other.config.write_text(ws.config.read_text(encoding="utf-8"), encoding="utf-8")
    other.request.write_text(ws.request.read_text(encoding="utf-8"), encoding="utf-8")
    theirs = _lifecycle(other.run_agent_lanes, other, "fmt", prompt)
    for name in ours:
        mine, ref = task_dir(ws, ours[name]), task_dir(other, theirs[name])
        assert sorted(os.listdir(mine)) == sorted(os.listdir(ref))
        for file in ("task.json", "response.json"):
            if (ref / file).exists():
                assert shape(json.loads((mine / file).read_text())) == shape(json.loads((ref / file).read_text()))
        our_events = [json.loads(line) for line in (mine / "events.jsonl").read_text().splitlines()]
        their_events = [json.loads(line) for line in (ref / "events.jsonl").read_text().splitlines()]
        assert [(e["type"], e["message"]) for e in our_events] == [(e["type"], e["message"]) for e in their_events]
    assert sorted(os.listdir(ws.store_root / "indexes" / "correlations")) == sorted(
        os.listdir(other.store_root / "indexes" / "correlations")
    )

    # agent-lanes reads and rewrites our files and we read its rewrites back.
    for task_id in ours.values():
        assert mask_times(ok_json(ws.run("status", task_id, "--json"))) == mask_times(
            ok_json(ws.run_agent_lanes("status", task_id, "--json"))
        )


# -- 8: lanes-tui operator verbs as agent-lanes sees them ------------------------------------------------


def test_cancel_is_a_failure_to_agent_lanes(workspace, spawn):
    ws = workspace
    queued = al_submit(ws, lane="op", response="q.md")["task_id"]
    claimed = al_submit(ws, lane="op", response="c.md")["task_id"]
    token = ok_json(ws.run_agent_lanes("claim", claimed, "--owner", "al", "--json"))["claim_token"]
    waiter = spawn(agent_lanes_argv(ws, "wait", claimed, "--timeout", "60", "--quiet"), ws)

    for task_id in (queued, claimed):
        cancelled = ok_json(ws.run("cancel", task_id, "--reason", "operator said so", "--json"))
        assert cancelled["status"] == "cancelled" and cancelled["task"]["state"] == "failed"

    # The waiter that was blocked before the cancel stops with agent-lanes' failure exit.
    refused(finish(waiter), "cancelled")
    refused(ws.run_agent_lanes("wait", queued, "--timeout", "10", "--quiet"), "cancelled")
    for task_id in (queued, claimed):
        view = ok_json(ws.run_agent_lanes("status", task_id, "--json"))["task"]
        assert view["state"] == "failed"
        assert view["failure_reason"] == "cancelled"
        assert view["claim_token"] is None and view["failed_at"] is not None
        assert view["next_action"] == "inspect failure response and decide whether to resubmit the task"
    # The cancelled holder is fenced by agent-lanes itself.
    refused(ws.run_agent_lanes("renew", claimed, "--claim-token", token), "task is failed")
    refused(ws.run_agent_lanes("respond", claimed, "--claim-token", token, "--body", "late"), "task is failed")
    refused(ws.run_agent_lanes("claim", claimed), "task is failed")
    assert not (task_dir(ws, claimed) / "response.json").exists()
    # lanes-tui's own wait exits with its task-failed code.
    ours = ws.run("wait", claimed, "--timeout", "10", "--quiet", "--json")
    assert ours.returncode == 3, (ours.stdout, ours.stderr)
    failed = json.loads(ours.stdout)  # exactly one JSON document
    assert failed["status"] == "failed" and failed["failure_reason"] == "cancelled"
    assert failed["exit_code"] == 3 and failed["response"] is None
    last = ok_json(ws.run_agent_lanes("status", claimed, "--json"))["task"]["last_event"]
    assert last["type"] == "cancelled" and last["data"]["previous_owner"] == "al"
    summary = ok_json(ws.run_agent_lanes("status", "--all", "--json"))["summary"]
    assert summary["failed"] == 2 and summary["queued"] == summary["claimed"] == 0


def test_break_requeues_for_agent_lanes_and_fences_the_old_token(workspace):
    ws = workspace
    task_id = lt_submit(ws, lane="op", response="b.md")["task_id"]
    old = ok_json(ws.run_agent_lanes("claim", task_id, "--owner", "stuck", "--json"))["claim_token"]

    broken = ok_json(ws.run("break", task_id, "--reason", "x", "--json"))
    assert broken["status"] == "broken" and broken["task"]["state"] == "queued"
    view = ok_json(ws.run_agent_lanes("status", task_id, "--json"))["task"]
    assert view["state"] == "queued" and view["claim_token"] is None and view["claim_owner"] is None
    assert view["last_event"]["type"] == "released"
    assert view["last_event"]["data"]["reason"] == "x"
    assert _next_id(ws.run_agent_lanes, "op") == task_id
    refused(ws.run_agent_lanes("renew", task_id, "--claim-token", old), "cannot renew .*task is queued")

    new = ok_json(ws.run_agent_lanes("claim", task_id, "--owner", "fresh", "--json"))
    assert new["task"]["claim_owner"] == "fresh" and new["claim_token"] != old
    refused(ws.run_agent_lanes("renew", task_id, "--claim-token", old), "claim token does not match")
    refused(ws.run_agent_lanes("release", task_id, "--claim-token", old), "claim token does not match")
    refused(ws.run_agent_lanes("respond", task_id, "--claim-token", old, "--body", "stale"), "claim token does not match")
    refused(ws.run("respond", task_id, "--claim-token", old, "--body", "stale"), "claim token does not match")
    refused(ws.run("event", task_id, "--claim-token", old, "--type", "note"), "claim token does not match")
    assert not (task_dir(ws, task_id) / "response.json").exists()

    ok_json(ws.run_agent_lanes("respond", task_id, "--claim-token", new["claim_token"], "--body", "fresh answer", "--json"))
    waited = ok_json(ws.run("wait", task_id, "--json", "--timeout", "10"))
    assert waited["response"]["body"] == "fresh answer" and waited["response"]["reviewer"] == "worker"
    assert event_types(ws, task_id) == ["created", "claimed", "released", "claimed", "response"]


def test_old_token_after_break_is_refused_by_lanes_tui_before_any_reclaim(workspace):
    """G7: once broken, the stale holder cannot answer even while the task sits queued."""
    ws = workspace
    task_id = al_submit(ws, lane="op", response="g7.md")["task_id"]
    old = ok_json(ws.run_agent_lanes("claim", task_id, "--owner", "stuck", "--json"))["claim_token"]
    ok_json(ws.run("break", task_id, "--reason", "x", "--json"))
    refused(ws.run("renew", task_id, "--claim-token", old), "task is queued")
    refused(ws.run("release", task_id, "--claim-token", old), "task is queued")
    refused(ws.run("event", task_id, "--claim-token", old, "--type", "note"), "task is queued")
    proc = ws.run("respond", task_id, "--claim-token", old, "--body", "stale")
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert not (task_dir(ws, task_id) / "response.json").exists()
    assert ok_json(ws.run_agent_lanes("status", task_id, "--json"))["task"]["state"] == "queued"
