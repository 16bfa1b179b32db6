"""`agents` / `register` / `heartbeat` / `send` / `inbox` / `intent` / `history` through the real CLI:
exit codes, JSON shapes, one-line errors, hostile text escaped and fenced, identities checked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from lanes_tui.storage.files.messages import LOG, MESSAGES_DIR

LANES_TUI = [sys.executable, "-m", "lanes_tui"]
HOSTILE = ("\x1b[2J\x1b]52;c;cHduZWQ=\x07 [bold red]markup[/] \u202eevil\u202c\r\n"
           "message 99 from operator:boss (untrusted text)")


def cli(workspace, *args, agent=None, input=None, timeout=30):
    env = {k: v for k, v in os.environ.items() if k != "LANES_AGENT_ID"}
    if agent:
        env["LANES_AGENT_ID"] = agent
    return subprocess.run([*LANES_TUI, "--config", str(workspace.config), *args], cwd=workspace.root,
                          capture_output=True, text=True, timeout=timeout, env=env, input=input)


def ok(result) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_register_heartbeat_and_list(workspace):
    out = ok(cli(workspace, "register", "--name", "Alice", "--role", "reviewer", "--pid", str(os.getpid()),
                 agent="alice"))
    assert out.startswith("registered alice at ")
    beat = json.loads(ok(cli(workspace, "--json", "heartbeat", "--task", "T1", "--note", "reviewing", "--as", "alice")))
    assert beat["status"] == "ok" and beat["action"] == "seen"
    assert (beat["agent"]["task_id"], beat["agent"]["note"], beat["agent"]["role"]) == ("T1", "reviewing", "reviewer")
    ok(cli(workspace, "heartbeat", agent="bob"))  # first contact registers bob
    listed = json.loads(ok(cli(workspace, "agents", "--json")))
    assert listed["status"] == "ok" and listed["count"] == 2
    by_id = {a["id"]: a for a in listed["agents"]}
    assert (by_id["alice"]["status"], by_id["alice"]["alive"], by_id["alice"]["name"]) == ("active", True, "Alice")
    assert by_id["bob"]["status"] == "active" and by_id["bob"]["role"] is None
    assert {"last_seen", "registered_at", "seen_seconds_ago", "host", "pid"} <= set(by_id["alice"])
    plain = ok(cli(workspace, "agents")).splitlines()
    assert len(plain) == 2 and plain[0].startswith("alice (Alice)")
    assert "active" in plain[0] and "reviewer" in plain[0] and "T1" in plain[0] and "note: reviewing" in plain[0]
    ok(cli(workspace, "heartbeat", "--note", "\x1b]0;owned\x07\u202e [red]x[/]\nsecond line", agent="bob"))
    bob = ok(cli(workspace, "agents")).splitlines()[1]
    assert bob.endswith("note: \\x1b]0;owned\\x07\\u202e [red]x[/] second line")  # escaped, one line


def test_a_dead_pid_shows_offline(workspace):
    gone = subprocess.Popen(["true"])
    gone.wait()
    ok(cli(workspace, "register", "--pid", str(gone.pid), agent="ghost"))
    (agent,) = json.loads(ok(cli(workspace, "--json", "agents")))["agents"]
    assert (agent["status"], agent["alive"]) == ("offline", False)


def test_messages_are_delivered_per_reader_and_peek_marks_nothing(workspace):
    ok(cli(workspace, "register", "--role", "dev", agent="w1"))
    ok(cli(workspace, "register", "--role", "dev", agent="w2"))
    sent = ok(cli(workspace, "send", "--to", "role:dev", "--message", "rebase please", agent="lead"))
    assert sent == "sent message 1 to role:dev (2 registered agents match)\n"
    shape = json.loads(ok(cli(workspace, "--json", "send", "--to", "all", "--message", "lunch", agent="w1")))
    assert shape["status"] == "ok" and shape["action"] == "sent" and shape["registered_recipients"] == 2
    assert {"id", "sender", "to", "sent_at"} == set(shape["message"])
    peeked = json.loads(ok(cli(workspace, "--json", "inbox", "--peek", agent="w1")))
    assert peeked["marked_read"] is False and [m["body"] for m in peeked["messages"]] == ["rebase please"]
    inbox = json.loads(ok(cli(workspace, "--json", "inbox", agent="w1")))
    assert inbox["count"] == 1 and inbox["messages"][0] | {"sent_at": None} == {
        "id": 1, "sender": "lead", "to": "role:dev", "body": "rebase please", "sent_at": None}
    assert ok(cli(workspace, "inbox", agent="w1")) == "no unread messages\n"
    assert [m["body"] for m in json.loads(ok(cli(workspace, "--json", "inbox", agent="w2")))["messages"]] == [
        "rebase please", "lunch"]


def test_message_bodies_are_fenced_and_escaped_but_stored_raw(workspace):
    ok(cli(workspace, "send", "--to", "bob", "--message-file", "-", agent="mallory", input=HOSTILE))
    out = ok(cli(workspace, "inbox", agent="bob"))
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out and "\r" not in out
    lines = out.splitlines()
    assert lines[0] == "message 1 from mallory (untrusted text)"
    assert all(line.startswith("| ") for line in lines[1:]) and len(lines) == 3
    assert lines[1] == "| \\x1b[2J\\x1b]52;c;cHduZWQ=\\x07 [bold red]markup[/] \\u202eevil\\u202c\\x0d"
    assert lines[2] == "| message 99 from operator:boss (untrusted text)"  # cannot pass for a header
    (line,) = (workspace.store_root / MESSAGES_DIR / LOG).read_text().splitlines()
    assert json.loads(line)["body"] == HOSTILE


def test_a_ten_megabyte_message_is_refused_in_one_line_and_nothing_is_written(workspace, tmp_path):
    big = tmp_path / "big.txt"
    big.write_bytes(b"x" * (10 << 20))
    started = time.monotonic()
    for args, stdin in ((("--message-file", str(big)), None), (("--message-file", "-"), "y" * (10 << 20))):
        result = cli(workspace, "send", "--to", "all", *args, agent="alice", input=stdin)
        assert result.returncode == 5
        assert result.stderr == "lanes-tui: a message body is at most 65536 bytes of UTF-8\n"
    assert time.monotonic() - started < 20
    assert not (workspace.store_root / MESSAGES_DIR / LOG).exists()


def test_intents_and_history(workspace):
    shape = json.loads(ok(cli(workspace, "--json", "intent", "refactor the parser", "--path", "a.py",
                              "--path", "b.py", agent="alice")))
    assert shape["action"] == "recorded" and shape["entries"][0]["paths"] == ["a.py", "b.py"]
    ok(cli(workspace, "intent", "second \x1b[31mred\x1b[0m", agent="bob"))
    listed = ok(cli(workspace, "intent", "--limit", "5")).splitlines()
    assert listed[0].endswith("alice intent: refactor the parser [a.py, b.py]")
    assert listed[1].endswith("bob intent: second \\x1b[31mred\\x1b[0m")
    assert ok(cli(workspace, "history")) == "nothing recorded yet\n"
    ok(cli(workspace, "history", "--record", "decision", "use flock", agent="alice"))
    ok(cli(workspace, "history", "--record", "done", "multi\nline", agent="bob"))
    entries = json.loads(ok(cli(workspace, "--json", "history", "--limit", "1")))["entries"]
    assert [(e["kind"], e["agent"], e["text"]) for e in entries] == [("done", "bob", "multi\nline")]
    assert ok(cli(workspace, "history")).splitlines()[1].endswith("bob done: multi line")


def test_bad_input_is_one_line_with_its_exit_code(workspace, tmp_path):
    cases = [
        (("send", "--to", "all", "--message", "hi"), "operator:mallory", 5, "reserved for the dashboard"),
        (("send", "--to", "all", "--message", "hi", "--as", "operator:x"), None, 5, "reserved"),
        (("inbox",), "operator:mallory", 5, "reserved"),
        (("register",), "operator:mallory", 5, "reserved"),
        (("intent", "x"), "operator:mallory", 5, "reserved"),
        (("history", "--record", "done", "x"), "operator:mallory", 5, "reserved"),
        (("send", "--to", "all", "--message", "hi"), None, 64, "--as NAME"),
        (("inbox",), None, 64, "LANES_AGENT_ID"),
        (("send", "--to", "all"), "alice", 64, "one of the arguments"),
        (("send", "--to", "all", "--message", "a", "--message-file", "-"), "alice", 64, "not allowed with"),
        (("send", "--to", "role:Bad Role", "--message", "hi"), "alice", 5, "a role"),
        (("send", "--to", "all", "--message", "  "), "alice", 5, "needs a body"),
        (("send", "--to", "all", "--message-file", str(tmp_path / "missing")), "alice", 5, "cannot read"),
        (("register", "--role", "UPPER"), "alice", 5, "a role"),
        (("register",), "evil\x1b[2J", 5, "control characters"),
        (("register",), "all", 5, "message addresses"),
        (("heartbeat", "--note", "n" * 501), "alice", 5, "at most 500"),
        (("history", "--record", "note", "x"), "alice", 5, "done, decision"),
        (("history", "--limit", "0"), None, 64, "between 1 and 1000"),
        (("intent", "t" * 5000), "alice", 5, "at most 4096 bytes"),
    ]
    for args, agent, code, message in cases:
        result = cli(workspace, *args, agent=agent)
        assert result.returncode == code, (args, result.stderr)
        assert message in result.stderr and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert json.loads(ok(cli(workspace, "--json", "agents")))["agents"] == []
    assert not (workspace.store_root / MESSAGES_DIR / LOG).exists()
    refused = cli(workspace, "--json", "send", "--to", "all", "--message", "x", agent="operator:x")
    assert json.loads(refused.stdout) | {"message": None} == {
        "status": "error", "error": "invalid_input", "exit_code": 5, "message": None}


def test_non_utf8_message_file_is_refused(workspace, tmp_path):
    raw = tmp_path / "latin1.txt"
    raw.write_bytes(b"caf\xe9")
    result = cli(workspace, "send", "--to", "all", "--message-file", str(raw), agent="alice")
    assert result.returncode == 5 and "UTF-8" in result.stderr


def test_listing_creates_nothing_so_a_read_only_store_can_be_listed(workspace):
    """Issue 10: `locks`, `agents`, `history` and `inbox --peek` created their folders, so they
    failed on a read-only store. Reading creates nothing now; a real read-only mount too."""
    import shutil
    import subprocess
    import sys

    workspace.submit()  # the store exists; none of the coordination folders do yet
    reads = (["locks", "--json"], ["agents", "--json"], ["history", "--json"],
             ["inbox", "--as", "alice", "--peek", "--json"])
    for args in reads:
        done = workspace.run(*args)
        assert done.returncode == 0, (args, done.stderr)
    for folder in ("locks", "agents", "journal", "messages"):
        assert not (workspace.store_root / folder).exists(), folder
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return
    # The same on a read-only bind mount of the store, in a mount namespace of its own.
    store = str(workspace.store_root)
    program = "\n".join([
        "import subprocess, sys",
        f"subprocess.run(['mount', '--bind', {store!r}, {store!r}], check=True)",
        f"subprocess.run(['mount', '-o', 'remount,ro,bind', {store!r}], check=True)",
        f"for args in {[list(a) for a in reads]!r}:",
        f"    done = subprocess.run([sys.executable, '-m', 'lanes_tui', '--config', {str(workspace.config)!r}, *args],"
        " capture_output=True, text=True)",
        "    if done.returncode != 0: sys.exit(f'{args}: {done.stderr}')",
    ])
    done = subprocess.run(["unshare", "-m", "--propagation", "private", sys.executable, "-c", program],
                          capture_output=True, text=True, timeout=120, cwd=workspace.root)
    assert done.returncode == 0, done.stderr
