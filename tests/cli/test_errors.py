"""The CLI's error contract, through the real `lanes-tui` process.

Every failure is exactly one line on stderr starting with ``lanes-tui: ``, carries the
documented exit code of its kind (lanes_tui/core/errors.py, README "Exit codes"), never
shows a traceback, prints nothing on stdout without --json, and with --json prints exactly
one JSON object on stdout: {status: "error", error: <kind>, message, exit_code}
(`wait` on a failed task: status "failed" plus the same error fields). Every case runs
with --json; at least one case per exit code also runs without it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import pytest
from helpers.procio import read_stderr_line

from lanes_tui.core.errors import (
    ConfigError,
    ConflictError,
    CorruptTask,
    InternalError,
    Interrupted,
    InvalidInput,
    NotFound,
    StoreError,
    TaskFailed,
    UsageError,
    WaitTimeout,
)
from lanes_tui.storage.files.backend import FileBackend

LANES_TUI = [sys.executable, "-m", "lanes_tui"]
PREFIX = "lanes-tui: "
# The documented exit codes, written out here on purpose: a change in errors.py must fail this.
KIND_OF_CODE = {
    1: "conflict",
    2: "timeout",
    3: "task_failed",
    4: "not_found",
    5: "invalid_input",
    6: "config_error",
    7: "store_error",
    8: "corrupt_task",
    64: "usage",
    70: "internal_error",
    130: "interrupted",
}
UNKNOWN_ID = "20260101T000000000000Z-nobody-000000000000"


def error_line(result: subprocess.CompletedProcess) -> str:
    """The single error line, after checking the stderr contract."""
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, f"expected one stderr line, got {lines!r}"
    assert lines[0].startswith(PREFIX), lines[0]
    assert lines[0][len(PREFIX):].strip(), "empty error message"
    return lines[0]


def check_error(result: subprocess.CompletedProcess, code: int, *, json_mode: bool, contains: str | None = None) -> dict | None:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    line = error_line(result)
    if contains is not None:
        assert contains.lower() in line.lower(), line
    if not json_mode:
        assert result.stdout == "", result.stdout
        return None
    payload = json.loads(result.stdout)  # exactly one JSON document, nothing else
    assert isinstance(payload, dict)
    # `wait` on a failed task reports the failure itself (status "failed"); all else is "error".
    assert payload["status"] == ("failed" if code == 3 else "error")
    assert payload["error"] == KIND_OF_CODE[code]
    assert payload["exit_code"] == code
    assert payload["message"] == line[len(PREFIX):]
    return payload


def run_cli(argv: list[str], *, cwd: Path, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run([*LANES_TUI, *argv], cwd=cwd, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout)


def run_all(jobs: dict[str, tuple[list[str], Path]], timeout: float = 30) -> dict[str, subprocess.CompletedProcess]:
    """Run many CLI invocations a few at a time: the error cases are independent and
    read-only, and running them side by side keeps this file to a few seconds."""
    with ThreadPoolExecutor(max_workers=max(4, 2 * (os.cpu_count() or 1))) as pool:
        futures = {key: pool.submit(run_cli, argv, cwd=cwd, timeout=timeout) for key, (argv, cwd) in jobs.items()}
        return {key: future.result() for key, future in futures.items()}


def check_both(workspace, args: list[str], code: int, contains: str | None = None, timeout: float = 30) -> None:
    """The same failure without and with --json."""
    base = ["--config", str(workspace.config)]
    results = run_all({"plain": ([*base, *args], workspace.root), "json": ([*base, "--json", *args], workspace.root)}, timeout)
    check_error(results["plain"], code, json_mode=False, contains=contains)
    check_error(results["json"], code, json_mode=True, contains=contains)


def test_exit_codes_and_kinds_are_the_documented_ones():
    classes = [ConflictError, WaitTimeout, TaskFailed, NotFound, InvalidInput, ConfigError,
               StoreError, CorruptTask, UsageError, InternalError, Interrupted]
    assert {cls.exit_code: cls.kind for cls in classes} == KIND_OF_CODE
    # An error message is always one line, whatever the caller passed in.
    assert str(NotFound("a\nb\r\n  c")) == "a b c"


# -- task-state fixtures ------------------------------------------------------------


def populate(root: Path, store_root: Path, request: Path, outside_dir: Path) -> dict[str, str]:
    """Tasks in each state, plus paths inside and outside the workspace."""
    store = FileBackend(store_root)

    def submit(name: str) -> str:
        return store.create_task(
            workspace_id="ws", correlation_id="default", source_agent="test", lane="default",
            workspace_root=root, request_path=request, response_path=root / f"{name}.md",
            prompt="do it", metadata={},
        )["id"]

    queued = submit("q")
    claimed = submit("c")
    store.claim(claimed, owner="holder", lease_seconds=600)
    completed = submit("d")
    store.respond(completed, body="done", reviewer="r")
    failed = submit("f")
    store.respond(failed, body="it broke\nsecond line", reviewer="r", status="failed")
    cancelled = submit("x")
    store.cancel(cancelled, by="op", reason="not needed")
    outside = outside_dir / "outside.md"
    outside.write_text("secret\n", encoding="utf-8")
    (root / "link.md").symlink_to(outside)
    (root / "adir").mkdir()
    return {
        "{queued}": queued, "{claimed}": claimed, "{completed}": completed,
        "{failed}": failed, "{cancelled}": cancelled,
        "{req}": str(request), "{outside}": str(outside),
    }


@pytest.fixture
def ctx(workspace, tmp_path: Path) -> dict[str, str]:
    return populate(workspace.root, workspace.store_root, workspace.request, tmp_path)


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> SimpleNamespace:
    """One workspace for the read-only error cases (an error must not change the queue)."""
    base = tmp_path_factory.mktemp("errors")
    root = base / "ws"
    (root / "handoff").mkdir(parents=True)
    config = root / "handoff" / "handoff.yaml"
    config.write_text('workspace_id: "ws"\nworkspace_root: ".."\nqueue_root: "state"\n', encoding="utf-8")
    request = root / "request.md"
    request.write_text("# request\n", encoding="utf-8")
    store_root = root / "handoff" / "state"
    ctx = populate(root, store_root, request, base)
    return SimpleNamespace(root=root, config=config, store_root=store_root, request=request, ctx=ctx)


def expand(args: tuple[str, ...], ctx: dict[str, str]) -> list[str]:
    out = []
    for arg in args:
        for key, value in ctx.items():
            arg = arg.replace(key, value)
        out.append(arg)
    return out


SUBMIT = ("submit", "--lane", "default", "--request-from", "{req}", "--response-to", "out.md")

CASES = [
    # 4: not found
    ("status-unknown-id", ("status", UNKNOWN_ID), 4, "unknown task"),
    ("claim-unknown-id", ("claim", UNKNOWN_ID), 4, "unknown task"),
    ("respond-unknown-id", ("respond", UNKNOWN_ID, "--body", "x"), 4, "unknown task"),
    ("cancel-unknown-id", ("cancel", UNKNOWN_ID), 4, "unknown task"),
    ("requeue-unknown-id", ("requeue", UNKNOWN_ID), 4, "unknown task"),
    ("wait-unknown-id-fails-fast", ("wait", UNKNOWN_ID, "--timeout", "3000"), 4, "unknown task"),
    ("submit-missing-request", ("submit", "--lane", "l", "--request-from", "missing.md", "--response-to", "o.md"), 4, "request file does not exist"),
    ("submit-missing-prompt-file", (*SUBMIT, "--prompt-file", "missing-prompt.md"), 4, "prompt file does not exist"),
    ("submit-missing-task-file", (*SUBMIT, "--task", "missing-task.yaml"), 4, "task file does not exist"),
    ("respond-missing-file", ("respond", "{queued}", "--file", "missing-answer.md"), 4, "response file does not exist"),
    # 5: invalid input
    ("next-empty-lane", ("next", "--lane", "", "--timeout", "3000"), 5, "--lane must be a non-empty"),
    ("wait-empty-lane", ("wait", "--lane", "", "--timeout", "3000"), 5, "--lane must be a non-empty"),
    ("init-empty-workspace-id", ("init", "fresh-init", "--workspace-id", ""), 5, "--workspace-id must be"),
    ("id-dotdot-slash", ("status", "../x"), 5, "invalid task id"),
    ("id-slash", ("claim", "a/b"), 5, "invalid task id"),
    ("id-dotdot", ("cancel", "a..b"), 5, "invalid task id"),
    ("id-hidden", ("status", ".hidden"), 5, "invalid task id"),
    ("id-backslash", ("status", "a\\b"), 5, "invalid task id"),
    ("id-newline", ("status", "a\nb"), 5, "invalid task id"),
    ("id-space", ("claim", "a b"), 5, "invalid task id"),
    ("id-empty-claim", ("claim", ""), 5, "invalid task id"),
    ("id-empty-status", ("status", ""), 5, "invalid task id"),
    ("id-empty-wait", ("wait", "", "--timeout", "0"), 5, "invalid task id"),
    ("id-dash-after-double-dash", ("status", "--", "-x"), 5, "invalid task id"),
    ("id-300-chars", ("status", "a" * 300), 5, "300 characters"),
    ("id-300-chars-wait", ("wait", "a" * 300, "--timeout", "0"), 5, "300 characters"),
    ("request-outside", ("submit", "--lane", "l", "--request-from", "{outside}", "--response-to", "o.md"), 5, "request_path is outside"),
    ("request-outside-relative", ("submit", "--lane", "l", "--request-from", "../outside.md", "--response-to", "o.md"), 5, "request_path is outside"),
    ("request-symlink-outside", ("submit", "--lane", "l", "--request-from", "link.md", "--response-to", "o.md"), 5, "request_path is outside"),
    ("response-outside", ("submit", "--lane", "l", "--request-from", "{req}", "--response-to", "../elsewhere.md"), 5, "response_path is outside"),
    ("response-outside-absolute", ("submit", "--lane", "l", "--request-from", "{req}", "--response-to", "{outside}"), 5, "response_path is outside"),
    ("prompt-file-outside", (*SUBMIT, "--prompt-file", "{outside}"), 5, "prompt_file is outside"),
    ("metadata-without-equals", (*SUBMIT, "--metadata", "novalue"), 5, "KEY=VALUE"),
    ("respond-metadata-without-equals", ("respond", "{queued}", "--body", "x", "--metadata", "k"), 5, "KEY=VALUE"),
    ("requeue-metadata-without-equals", ("requeue", "{failed}", "--metadata", "k"), 5, "KEY=VALUE"),
    ("event-data-without-equals", ("event", "{queued}", "--data", "k"), 5, "KEY=VALUE"),
    ("respond-file-is-a-directory", ("respond", "{queued}", "--file", "adir"), 5, "directory"),
    # 1: refused by the task's state
    ("respond-wrong-token", ("respond", "{claimed}", "--body", "x", "--claim-token", "0" * 32), 1, "claim token"),
    ("respond-no-token-on-claimed", ("respond", "{claimed}", "--body", "x"), 1, "claim token"),
    ("renew-wrong-token", ("renew", "{claimed}", "--claim-token", "0" * 32), 1, "claim token"),
    ("release-wrong-token", ("release", "{claimed}", "--claim-token", "0" * 32), 1, "claim token"),
    ("claim-claimed", ("claim", "{claimed}"), 1, "active lease"),
    ("claim-completed", ("claim", "{completed}"), 1, "completed"),
    ("respond-completed", ("respond", "{completed}", "--body", "again"), 1, "already completed"),
    ("cancel-completed", ("cancel", "{completed}"), 1, "completed"),
    ("cancel-failed", ("cancel", "{failed}"), 1, "failed"),
    ("break-queued", ("break", "{queued}", "--reason", "r"), 1, "not claimed"),
    ("requeue-queued", ("requeue", "{queued}"), 1, "not failed"),
    ("requeue-completed", ("requeue", "{completed}"), 1, "not failed"),
    # 2 and 3: waiting
    ("wait-timeout", ("wait", "{queued}", "--timeout", "0.2", "--quiet"), 2, "timed out"),
    ("wait-cancelled", ("wait", "{cancelled}", "--timeout", "5"), 3, "cancelled"),
    # 64: usage
    ("unknown-subcommand", ("frobnicate",), 64, "invalid choice"),
    ("unknown-option", ("list", "--bogus"), 64, "unrecognized arguments"),
    ("dash-id-is-an-option", ("status", "-x"), 64, "unrecognized arguments"),
    ("claim-missing-id", ("claim",), 64, "required"),
    ("next-missing-lane", ("next",), 64, "--lane"),
    ("break-missing-reason", ("break", "{claimed}"), 64, "--reason"),
    ("renew-missing-token", ("renew", "{claimed}"), 64, "--claim-token"),
    ("archive-missing-days", ("archive",), 64, "--older-than-days"),
    ("status-without-id-or-all", ("status",), 64, "--all"),
    ("wait-without-id-or-lane", ("wait",), 64, "--lane"),
    ("submit-without-lane", ("submit", "--request-from", "{req}", "--response-to", "o.md"), 64, "--lane"),
    ("submit-without-request", ("submit", "--lane", "l", "--response-to", "o.md"), 64, "--request-from"),
    ("respond-bad-status", ("respond", "{queued}", "--body", "x", "--status", "done"), 64, "invalid choice"),
    ("respond-negative-count", ("respond", "{queued}", "--body", "x", "--blocking-count", "-1"), 64, "blocking-count"),
    ("timeout-nan", ("next", "--lane", "l", "--timeout", "nan"), 64, "--timeout"),
    ("timeout-inf", ("next", "--lane", "l", "--timeout", "inf"), 64, "--timeout"),
    ("timeout-minus-inf", ("wait", "--lane", "l", "--timeout=-inf"), 64, "--timeout"),
    ("timeout-negative", ("next", "--lane", "l", "--timeout", "-1"), 64, "--timeout"),
    ("timeout-not-a-number", ("watch", "--lane", "l", "--timeout", "soon"), 64, "--timeout"),
    ("timeout-huge", ("next", "--lane", "l", "--timeout", "1e300"), 64, "--timeout"),
    ("heartbeat-nan", ("next", "--lane", "l", "--heartbeat-seconds", "nan"), 64, "--heartbeat-seconds"),
    ("lease-zero", ("claim", "{queued}", "--lease-seconds", "0"), 64, "--lease-seconds"),
    ("lease-inf", ("claim", "{queued}", "--lease-seconds", "inf"), 64, "--lease-seconds"),
    ("lease-nan", ("claim", "{queued}", "--lease-seconds", "nan"), 64, "--lease-seconds"),
    ("lease-negative", ("renew", "{claimed}", "--claim-token", "t", "--lease-seconds", "-5"), 64, "--lease-seconds"),
    ("lease-zero-next-claim", ("next", "--lane", "default", "--claim", "--lease-seconds", "0"), 64, "--lease-seconds"),
    ("older-than-days-nan", ("archive", "--older-than-days", "nan"), 64, "--older-than-days"),
    ("older-than-days-negative", ("archive", "--older-than-days=-1"), 64, "--older-than-days"),
]


@pytest.fixture(scope="module")
def case_results(shared) -> dict[str, subprocess.CompletedProcess]:
    base = ["--config", str(shared.config)]
    jobs = {}
    for name, args, _, _ in CASES:
        args = expand(args, shared.ctx)
        jobs[(name, True)] = ([*base, "--json", *args], shared.root)
        if name in PLAIN_TOO:
            jobs[(name, False)] = ([*base, *args], shared.root)
    return run_all(jobs, timeout=20)


# Every case runs with --json (which checks the stderr line too); these also run without it,
# at least one per exit code, to check that nothing but the error line is printed.
PLAIN_TOO = {
    "status-unknown-id", "submit-missing-request", "id-dotdot-slash", "id-empty-status", "id-300-chars",
    "request-outside", "metadata-without-equals", "respond-wrong-token", "claim-claimed", "wait-timeout",
    "wait-cancelled", "unknown-subcommand", "claim-missing-id", "timeout-nan", "lease-inf",
}


@pytest.mark.parametrize("name,code,contains", [(c[0], c[2], c[3]) for c in CASES], ids=[c[0] for c in CASES])
def test_error_contract(case_results, name, code, contains):
    check_error(case_results[(name, True)], code, json_mode=True, contains=contains)
    if name in PLAIN_TOO:
        check_error(case_results[(name, False)], code, json_mode=False, contains=contains)


def test_plain_cases_cover_every_exit_code():
    assert PLAIN_TOO <= {c[0] for c in CASES}
    assert {c[2] for c in CASES if c[0] in PLAIN_TOO} == {c[2] for c in CASES}


def test_error_cases_left_the_shared_queue_unchanged(case_results, shared):
    store = FileBackend(shared.store_root)
    states = {key: store.read_task(shared.ctx[key])["state"] for key in ("{queued}", "{claimed}", "{completed}", "{failed}", "{cancelled}")}
    assert states == {"{queued}": "queued", "{claimed}": "claimed", "{completed}": "completed", "{failed}": "failed", "{cancelled}": "failed"}
    assert len(store.task_ids()) == 5  # no rejected submit left a task behind
    assert store.read_task(shared.ctx["{claimed}"])["claim_owner"] == "holder"


def test_number_errors_leave_the_queue_untouched(workspace, ctx):
    """A rejected number is rejected before anything happens: the claim is not taken."""
    result = workspace.run("claim", ctx["{queued}"], "--lease-seconds", "inf")
    assert result.returncode == 64
    assert workspace.store().read_task(ctx["{queued}"])["state"] == "queued"


def test_rejected_paths_create_no_task(workspace, ctx):
    before = set(workspace.store().task_ids())
    for args in (
        ("submit", "--lane", "l", "--request-from", ctx["{outside}"], "--response-to", "o.md"),
        ("submit", "--lane", "l", "--request-from", ctx["{req}"], "--response-to", "../o.md"),
        (*expand(SUBMIT, ctx), "--metadata", "novalue"),
    ):
        assert workspace.run(*args).returncode != 0
    assert set(workspace.store().task_ids()) == before


def test_error_json_after_the_subcommand(workspace):
    result = workspace.run("status", UNKNOWN_ID, "--json")
    payload = check_error(result, 4, json_mode=True, contains="unknown task")
    assert payload["message"] == f"unknown task: {UNKNOWN_ID}"


# -- waiting on failed tasks (a deliberate difference from agent-lanes) ------------------


def test_wait_on_failed_task_exits_3_with_failed_payload(workspace, ctx):
    failed = ctx["{failed}"]
    result = workspace.run("--json", "wait", failed, "--timeout", "5")
    assert result.returncode == 3, result.stderr
    line = error_line(result)
    assert line == f"lanes-tui: task {failed} failed: it broke"
    payload = json.loads(result.stdout)  # one JSON object, not a payload followed by an error
    assert payload["status"] == "failed"
    assert payload["task_id"] == failed
    assert payload["failure_reason"] == "it broke\nsecond line"
    assert payload["response"]["status"] == "failed"
    assert payload["response"]["body"] == "it broke\nsecond line"
    assert payload["error"] == "task_failed"
    assert payload["exit_code"] == 3
    assert payload["message"] == line[len(PREFIX):]
    # The failure body is still delivered to response_path, as for a completed task.
    assert Path(payload["response_path"]).read_text(encoding="utf-8") == "it broke\nsecond line"

    plain = workspace.run("wait", failed, "--timeout", "5")
    check_error(plain, 3, json_mode=False, contains="failed")


def test_wait_timeout_is_quick_and_exits_2(workspace, ctx):
    started = time.monotonic()
    result = workspace.run("--json", "wait", ctx["{queued}"], "--timeout", "0.2", "--quiet")
    elapsed = time.monotonic() - started
    payload = check_error(result, 2, json_mode=True, contains="timed out")
    assert ctx["{queued}"] in payload["message"]
    assert elapsed < 10


# -- configuration -------------------------------------------------------------------------

BIG = "workspace_id: \"ws\"\n" + "# padding\n" * ((1 << 20) // 10 + 10)
CONFIG_CASES = [
    ("yaml-unclosed-flow", "workspace_id: [unclosed\n", ".yaml:"),
    ("yaml-bad-indent", "workspace_id: ws\n  queue_root: state\n bad: [\n", ".yaml:"),
    ("yaml-tab-indent", "workspace_id: ws\nlanes:\n\tdefault: x\n", ".yaml:"),
    ("json-unclosed", '{"workspace_id": "ws"\n', ".yaml:"),
    ("json-missing-comma", '{"workspace_id": "ws" "queue_root": "state"}\n', ".yaml:"),
    ("top-level-list", "- workspace_id: ws\n- queue_root: state\n", "mapping"),
    ("top-level-scalar", "just a string\n", "mapping"),
    ("empty-file", "", "mapping"),
    ("checkpoints-key", 'workspace_id: "ws"\ncheckpoints:\n  review: {lane: default}\n', "checkpoints"),
    ("duplicate-keys", 'workspace_id: "ws"\nqueue_root: "a"\nqueue_root: "b"\n', "duplicate key"),
    ("duplicate-nested-keys", 'workspace_id: "ws"\nlanes:\n  a: x\n  a: y\n', "duplicate key"),
    ("anchor-and-alias", 'root: &r ".."\nworkspace_id: "ws"\nworkspace_root: *r\n', "anchor"),
    ("alias-only", 'workspace_id: *undefined\n', ".yaml:"),
    ("billion-laughs", 'a: &a ["x","x"]\nb: &b [*a,*a]\nc: &c [*b,*b]\nworkspace_id: "ws"\n', "anchor"),
    ("missing-workspace-id", 'queue_root: "state"\n', "workspace_id"),
    ("blank-workspace-id", 'workspace_id: "  "\n', "workspace_id"),
    ("boolean-workspace-id", "workspace_id: yes\n", "workspace_id"),
    ("queue-root-not-a-string", 'workspace_id: "ws"\nqueue_root: [a]\n', "queue_root"),
    ("lanes-not-a-mapping", 'workspace_id: "ws"\nlanes: [a, b]\n', "lanes"),
    ("not-utf8", b"workspace_id: \"\xff\xfe\"\n", "UTF-8"),
    ("huge", BIG, "too large"),
]


SUBMIT_HERE = ("submit", "--lane", "l", "--request-from", "request.md", "--response-to", "o.md")


@pytest.fixture(scope="module")
def config_results(shared) -> dict[tuple[str, bool], subprocess.CompletedProcess]:
    jobs = {}
    for name, text, _ in CONFIG_CASES:
        path = shared.root / "handoff" / f"bad-{name}.yaml"
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        jobs[(name, False)] = (["--config", str(path), "list"], shared.root)
        jobs[(name, True)] = (["--config", str(path), "--json", "list"], shared.root)
    return run_all(jobs)


@pytest.mark.parametrize("name,contains", [(c[0], c[2]) for c in CONFIG_CASES], ids=[c[0] for c in CONFIG_CASES])
def test_bad_config_is_a_config_error(config_results, name, contains):
    check_error(config_results[(name, False)], 6, json_mode=False, contains=contains)
    payload = check_error(config_results[(name, True)], 6, json_mode=True, contains=contains)
    assert f"bad-{name}.yaml" in payload["message"]  # the message names the file


@pytest.mark.parametrize("name", ["json-unclosed", "top-level-list", "checkpoints-key", "duplicate-keys", "anchor-and-alias", "huge"])
def test_bad_config_refuses_submit_and_creates_nothing(workspace, name):
    text = dict((c[0], c[1]) for c in CONFIG_CASES)[name]
    workspace.config.write_text(text, encoding="utf-8")
    check_both(workspace, list(SUBMIT_HERE), 6)
    assert not workspace.store_root.exists()


def test_huge_config_is_refused_before_parsing(workspace):
    assert len(BIG.encode()) > 1 << 20
    workspace.config.write_text(BIG, encoding="utf-8")
    result = workspace.run("list")
    check_error(result, 6, json_mode=False, contains="limit 1048576")


def test_config_that_is_a_directory(workspace):
    workspace.config.unlink()
    workspace.config.mkdir()
    check_both(workspace, ["list"], 6, "not a regular file")


def test_missing_config_file_is_not_found_and_names_it(workspace):
    workspace.config.unlink()
    check_both(workspace, ["list"], 4, f"config file does not exist: {workspace.config}")
    check_both(workspace, list(SUBMIT_HERE), 4, "config file does not exist")


def test_missing_default_config_in_an_empty_folder(tmp_path):
    """No --config and no handoff/handoff.yaml here: a clear one-line error naming the default path."""
    for extra in ([], ["--json"]):
        result = subprocess.run([*LANES_TUI, *extra, "list"], cwd=tmp_path, capture_output=True, text=True, timeout=30)
        check_error(result, 4, json_mode=bool(extra), contains="config file does not exist: handoff/handoff.yaml")
    assert not (tmp_path / "handoff").exists()  # nothing was created on the way


def test_bad_task_file_is_a_config_error(workspace):
    task = workspace.root / "task.yaml"
    task.write_text('lane: "a"\nlane: "b"\n', encoding="utf-8")
    check_both(workspace, ["submit", "--task", str(task), "--request-from", "request.md", "--response-to", "o.md"], 6, "duplicate key")
    task.write_text('- lane: "a"\n', encoding="utf-8")
    check_both(workspace, ["submit", "--task", str(task), "--request-from", "request.md", "--response-to", "o.md"], 6, "mapping")
    task.write_text('lane: "a"\nmetadata: [1, 2]\n', encoding="utf-8")
    check_both(workspace, ["submit", "--task", str(task), "--request-from", "request.md", "--response-to", "o.md"], 6, "metadata")


# -- store and task corruption -----------------------------------------------------------------


def test_store_that_is_a_file_is_a_store_error(workspace):
    not_a_dir = workspace.root / "plain-file"
    not_a_dir.write_text("x", encoding="utf-8")
    check_both(workspace, ["--store", str(not_a_dir), "list"], 7, "store")


def test_corrupt_task_json_is_exit_8_for_that_task_only(workspace, ctx):
    broken = ctx["{queued}"]
    (workspace.store_root / "tasks" / broken / "task.json").write_text("{not json", encoding="utf-8")
    check_both(workspace, ["status", broken], 8, broken)
    # The rest of the queue keeps working and lists the corrupt task apart.
    listing = workspace.run("--json", "list")
    assert listing.returncode == 0, listing.stderr
    payload = json.loads(listing.stdout)
    assert [c["task_id"] for c in payload["corrupt"]] == [broken]
    assert broken not in {t["id"] for t in payload["tasks"]}
    assert payload["count"] == 4
    assert "Traceback" not in listing.stderr


# -- interruption and internal errors ----------------------------------------------------------


def test_ctrl_c_during_wait_is_exit_130_without_traceback(workspace):
    proc = subprocess.Popen(
        [*LANES_TUI, "--config", str(workspace.config), "--json", "wait", "--lane", "default",
         "--timeout", "60", "--heartbeat-seconds", "0.05"],
        cwd=workspace.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        # Ctrl-C as on a terminal, even when this suite runs as a background job (whose children
        # inherit SIGINT ignored, and Python then installs no KeyboardInterrupt handler).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        first = read_stderr_line(proc, timeout=20)  # a heartbeat: the waiter is blocked now
        assert b"waiting" in first, first
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:  # say where it stood, for whoever looks next
            proc.kill()
            _, err = proc.communicate()
            raise AssertionError(f"no exit 20 s after SIGINT; its stderr: {(first + err)[-3000:]!r}") from None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stderr = (first + err).decode()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith(PREFIX)]
    assert errors == ["lanes-tui: interrupted"]
    assert json.loads(out) == {"status": "error", "error": "interrupted", "message": "interrupted", "exit_code": 130}


def test_a_documented_error_shows_where_it_came_from_only_on_request(monkeypatch, capsys, tmp_path):
    """An error with its own exit code is one line; with LANES_TUI_DEBUG=1 (a bug report, a
    supervisor that ended under a test) its traceback comes first, the line and the code unchanged."""
    from lanes_tui.cli import main

    missing = ["--store", str(tmp_path / "nowhere"), "status", "no-such-task"]
    code = main(missing)
    quiet = capsys.readouterr().err
    assert code not in (0, 70) and "Traceback" not in quiet and len(quiet.splitlines()) == 1
    monkeypatch.setenv("LANES_TUI_DEBUG", "1")
    assert main(missing) == code
    loud = capsys.readouterr().err
    assert loud.startswith("Traceback") and "lanes_tui" in loud
    assert loud.splitlines()[-1] == quiet.strip()


def test_unexpected_exception_is_one_line_exit_70(monkeypatch, capsys):
    import lanes_tui.commands as commands
    from lanes_tui.cli import main

    def boom(args):
        raise RuntimeError("kaput\nsecond line")

    monkeypatch.setattr(commands, "dispatch", boom)
    assert main(["--json", "list"]) == 70
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(PREFIX)
    assert "RuntimeError" in lines[0] and "LANES_TUI_DEBUG" in lines[0]
    assert json.loads(captured.out)["error"] == "internal_error"

    monkeypatch.setenv("LANES_TUI_DEBUG", "1")  # on request, the traceback is shown
    with pytest.raises(RuntimeError):
        main(["list"])
