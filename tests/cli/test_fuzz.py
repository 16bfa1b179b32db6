"""A property-based fuzz of the CLI (issue 10): whatever the arguments, no traceback, no
internal error (exit 70), one line on stderr for a refusal, and a refused command changes
nothing on disk.

Hypothesis builds argument lists from every verb and hostile values (NUL-free, since argv
cannot carry NUL: control characters, `~user`, `..`, overlong text, odd numbers, invalid
UTF-8 through surrogate escapes); each example runs the real `lanes-tui` process on one
queue with a few tasks in it. Derandomized, so a run is repeatable.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

LANES_TUI = [sys.executable, "-m", "lanes_tui"]
INTERNAL_ERROR = 70

_hostile = st.sampled_from([
    "", " ", "-", "--", "..", "../..", "~", "~nosuchuser-fuzz", "~nosuchuser-fuzz/x", "/", "/etc/passwd",
    "nan", "inf", "-inf", "-1", "0", "1e309", "99999999999999999999999", "0x10", "\x1b[2J", "\u202e",
    "[bold]x[/]", "a" * 300, "é", "\udcff\udcfe", "x=y", "=", "k=", "=v", "a,b", "\t", "\r\n",
])
_text = st.one_of(_hostile, st.text(alphabet=st.characters(blacklist_characters="\x00",
                                                            blacklist_categories=("Cs",)), max_size=40))
_number = st.one_of(st.sampled_from(["0", "1", "0.01", "-5", "nan", "inf", "1e400", "x", "3600"]),
                    st.integers(-10, 10**6).map(str))

VERBS = {
    "submit": lambda v: ["submit", "--lane", v[0], "--prompt", v[1], "--request-from", v[2], "--response-to", v[3],
                         "--metadata", v[4], "--task-id", v[5]],
    "submit-task": lambda v: ["submit", "--task", v[0]],
    "status": lambda v: ["status", v[0]],
    "status-all": lambda v: ["status", "--all"],
    "list": lambda v: ["list", "--lane", v[0]],
    "claim": lambda v: ["claim", v[0], "--owner", v[1], "--lease-seconds", v[6]],
    "renew": lambda v: ["renew", v[0], "--claim-token", v[1], "--lease-seconds", v[6]],
    "release": lambda v: ["release", v[0], "--claim-token", v[1]],
    "event": lambda v: ["event", v[0], "--type", v[1], "--message", v[2]],
    "respond": lambda v: ["respond", v[0], "--claim-token", v[1], "--body", v[2]],
    "cancel": lambda v: ["cancel", v[0], "--reason", v[1]],
    "break": lambda v: ["break", v[0], "--reason", v[1]],
    "requeue": lambda v: ["requeue", v[0], "--metadata", v[1]],
    "next": lambda v: ["next", "--lane", v[0], "--claim", "--owner", v[1], "--lease-seconds", v[6], "--timeout", "0.05"],
    "wait": lambda v: ["wait", v[0], "--timeout", "0.05"],
    "wait-lane": lambda v: ["wait", "--lane", v[0], "--timeout", "0.05"],
    "archive": lambda v: ["archive", "--older-than-days", v[6], "--dry-run"],
    "lock": lambda v: ["lock", v[0], "--as", v[1], "--ttl", v[6], "--reason", v[2]],
    "unlock": lambda v: ["unlock", v[0], "--as", v[1]],
    "locks": lambda v: ["locks"],
    "break-lock": lambda v: ["break-lock", v[0], "--reason", v[1], "--as", v[2]],
    "register": lambda v: ["register", "--as", v[0], "--role", v[1]],
    "send": lambda v: ["send", "--to", v[0], "--message", v[1], "--as", v[2]],
    "inbox": lambda v: ["inbox", "--as", v[0], "--peek"],
    "intent": lambda v: ["intent", v[0], "--path", v[1], "--as", v[2]],
    "history": lambda v: ["history", "--record", v[0], v[1], "--as", v[2]],
}


def snapshot(root: Path) -> dict[str, str]:
    """Every file under the store with a digest of its bytes (what a refusal must not touch)."""
    found = {}
    for folder, _dirs, files in os.walk(root):
        for name in files:
            path = Path(folder) / name
            try:
                found[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
            except OSError:
                found[str(path.relative_to(root))] = "unreadable"
    return found


@pytest.fixture(scope="module")
def queue(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz") / "ws"
    (root / "handoff").mkdir(parents=True)
    config = root / "handoff" / "handoff.yaml"
    config.write_text('workspace_id: "fuzz"\nworkspace_root: ".."\nqueue_root: "state"\n', encoding="utf-8")
    (root / "request.md").write_text("# request\n", encoding="utf-8")
    (root / "task.yaml").write_text("lane: a\nprompt: p\nrequest_from: request.md\nresponse_to: out.md\n"
                                    "metadata: {when: 2026-01-01}\n", encoding="utf-8")
    for lane in ("a", "b"):
        done = subprocess.run([*LANES_TUI, "--config", str(config), "submit", "--lane", lane, "--prompt", "p",
                               "--request-from", "request.md", "--response-to", f"{lane}.md"],
                              cwd=root, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
    return root, config


@settings(max_examples=120, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(verb=st.sampled_from(sorted(VERBS)), values=st.tuples(_text, _text, _text, _text, _text, _text, _number),
       as_json=st.booleans())
def test_no_argument_list_crashes_the_cli_or_changes_anything_it_refuses(queue, verb, values, as_json):
    root, config = queue
    argv = [*LANES_TUI, "--config", str(config), *VERBS[verb](values), *(["--json"] if as_json else [])]
    encoded = [os.fsencode(arg) for arg in argv]  # surrogate escapes become the raw bytes
    before = snapshot(root / "handoff" / "state")
    done = subprocess.run(encoded, cwd=root, capture_output=True, timeout=60, env={**os.environ, "HOME": str(root)})
    stderr = done.stderr.decode("utf-8", "replace")
    event(f"exit {done.returncode}")
    assert "Traceback" not in stderr, stderr
    assert done.returncode != INTERNAL_ERROR, stderr
    if done.returncode not in (0, 2):  # 2: `wait` timed out, as in agent-lanes
        lines = [line for line in stderr.splitlines() if line.startswith("lanes-tui: ")]
        assert lines, stderr
        assert snapshot(root / "handoff" / "state") == before, f"refused ({done.returncode}) but changed: {argv}"
