"""Permission presets with the real CLIs: what each preset lets an agent do, and denials that are never silent.

The stand-in model asks for the tool calls (a Write, a Bash command, an
apply_patch); the real CLI decides, under the flags lanes-tui passed, whether
they run. The files on disk say what happened; the queue says what was seen.
"""

from __future__ import annotations

import json
import os

from .harness import request_text, require_tools


def response_of(agents, task):
    response = agents.store().read_response(task["id"])
    assert response is not None, agents.store().read_task(task["id"])
    return response


def events_of(agents, task, kind):
    return [e for e in agents.store().read_events(task["id"]).events if e.get("type") == kind]


def claude_write(path, text="written by the agent\n"):
    return {"tool": {"name": "Write", "input": {"file_path": str(path), "content": text}}}


def claude_bash(command):
    return {"tool": {"name": "Bash", "input": {"command": command, "description": "run it"}}}


def codex_exec(command):
    return {"tool": {"name": "exec_command", "input": {"cmd": command}}}


def codex_patch_add(name, text="added by the agent"):
    return {"tool": {"name": "apply_patch", "input": f"*** Begin Patch\n*** Add File: {name}\n+{text}\n*** End Patch\n"}}


# -- claude -------------------------------------------------------------------------------------


def test_claude_read_only_denies_edits_and_flags_the_task(agents):
    agents.settings()
    inside = agents.workspace.root / "inside.txt"
    task = agents.submit(metadata={"required_vendor": "claude"})
    box = agents.drain({"anthropic": [claude_bash(f"echo hi > {inside}"), claude_bash(f"touch {inside}"),
                                      claude_write(inside), {"text": "I could not write the file."}]})
    assert not inside.exists()
    # The edit tools are not even offered to the model; commands that write are denied.
    offered = {tool["name"] for tool in box.requests()[0]["body"]["tools"]}
    assert "Read" in offered and not offered & {"Write", "Edit", "MultiEdit", "NotebookEdit"}
    # The CLI told the model (the tool result), and ended "success": lanes-tui does not stop there.
    assert "was blocked" in request_text(box.requests()[1]) or "denied" in request_text(box.requests()[1])
    response = response_of(agents, task)
    assert response["status"] == "completed" and response["body"] == "I could not write the file."
    meta = response["metadata"]
    assert meta["permissions"] == "read-only"
    assert [d["tool"] for d in meta["permission_denials"]] == ["Bash", "Bash"]
    assert meta["permission_denials"][0]["target"] == f"echo hi > {inside}"
    assert meta["attention"].startswith("2 tool call(s) denied by the read-only preset: Bash: echo hi > ")
    (event,) = events_of(agents, task, "permission_denied")
    assert event["data"]["permissions"] == "read-only" and len(event["data"]["denials"]) == 2
    denied = [e for e in box.events() if e["event"] == "worker_denied"]
    assert [e["tool"] for e in denied] == ["Bash", "Bash"]
    done = next(e for e in box.events() if e["event"] == "task_completed")
    assert done["attention"] == meta["attention"]


def test_claude_denials_fail_the_attempt_where_the_lane_says_so(agents):
    agents.settings(lane_defaults={"on_denial": "fail", "max_attempts": 1})
    inside = agents.workspace.root / "inside.txt"
    task = agents.submit(metadata={"required_vendor": "claude"})
    agents.drain({"anthropic": [claude_bash(f"echo hi > {inside}"), {"text": "done (not really)"}]}, expect=10)
    response = response_of(agents, task)
    assert response["status"] == "failed"
    assert "1 tool call(s) denied by the read-only preset: Bash: echo hi > " in response["body"]
    assert not inside.exists()


def test_claude_edit_preset_edits_the_tree_and_nothing_outside_it(agents):
    require_tools("bwrap", "socat", why="Claude Code's sandbox for commands (the edit preset)")
    agents.settings(lanes={"dev": {"permissions": "edit"}})
    inside = agents.workspace.root / "src" / "new.py"
    outside = agents.root / "outside.txt"  # beside the repository, not in it
    task = agents.submit(lane="dev", metadata={"required_vendor": "claude"})
    box = agents.drain({"anthropic": [
        claude_write(inside, "print('hi')\n"),
        claude_bash(f"echo made > {agents.workspace.root / 'made-by-bash.txt'}"),
        claude_write(outside),
        claude_bash(f"touch {outside}"),
        {"text": "done"},
    ]})
    assert inside.read_text() == "print('hi')\n"
    assert (agents.workspace.root / "made-by-bash.txt").read_text() == "made\n"
    assert not outside.exists()
    meta = response_of(agents, task)["metadata"]
    assert meta["permissions"] == "edit"
    # The Write outside: refused by Claude Code's permission rules; the touch outside: stopped by
    # its sandbox (bubblewrap), which only the tool result says. Both are recorded as denials.
    denials = {d["tool"]: d["target"] for d in meta["permission_denials"]}
    assert denials == {"Write": str(outside), "Bash": f"touch {outside}"}
    assert "Read-only file system" in request_text(box.requests()[4])


def test_a_task_may_narrow_its_lanes_preset_never_widen_it(agents):
    agents.settings(lanes={"dev": {"permissions": "edit"}})
    inside = agents.workspace.root / "inside.txt"
    narrow = agents.submit(lane="dev", name="narrow", metadata={"required_vendor": "claude",
                                                                "permissions": "read-only"})
    wide = agents.submit(lane="dev", name="wide", metadata={"required_vendor": "claude", "permissions": "trusted"})
    box = agents.drain({"anthropic": [claude_bash(f"touch {inside}"), {"text": "done"}]}, expect=10)
    assert not inside.exists()
    assert response_of(agents, narrow)["metadata"]["permissions"] == "read-only"
    failed = response_of(agents, wide)
    assert failed["status"] == "failed" and "'trusted' is wider than lane 'dev' allows ('edit')" in failed["body"]
    assert len(box.requests()) == 2  # only the narrowed task ran (its Write, then its answer)


def test_claude_trusted_is_refused_as_root_unless_the_machine_says_it_is_a_sandbox(agents):
    if os.geteuid() != 0:
        return  # the refusal is Claude Code's, for root only; the lane below then simply runs
    agents.settings(lanes={"yolo": {"permissions": "trusted"}})
    task = agents.submit(lane="yolo", metadata={"required_vendor": "claude"})
    agents.drain({"anthropic": [{"text": "never asked"}]}, expect=10)
    failed = response_of(agents, task)
    assert failed["status"] == "failed" and "cannot be used with root/sudo privileges" in failed["body"]


def test_claude_trusted_bypasses_permissions_where_the_lane_opts_in(agents):
    agents.settings(lanes={"yolo": {"permissions": "trusted"}},
                    vendors={"claude": {"env": {"set": {"IS_SANDBOX": "1"}}}})
    outside = agents.root / "outside.txt"
    task = agents.submit(lane="yolo", metadata={"required_vendor": "claude"})
    agents.drain({"anthropic": [claude_write(outside, "anything goes\n"), {"text": "done"}]})
    assert outside.read_text() == "anything goes\n"
    meta = response_of(agents, task)["metadata"]
    assert meta["permissions"] == "trusted" and "permission_denials" not in meta


# -- codex --------------------------------------------------------------------------------------


def test_codex_read_only_sandbox_denials_are_recorded_though_its_stream_hides_them(agents):
    agents.settings()
    task = agents.submit(metadata={"required_vendor": "codex"})
    box = agents.drain({"openai": [codex_exec("echo hi > inside.txt"), codex_patch_add("patched.txt"),
                                   {"text": "I could not change anything."}]})
    assert not (agents.workspace.root / "inside.txt").exists()
    assert not (agents.workspace.root / "patched.txt").exists()
    assert "Read-only file system" in request_text(box.requests()[1])
    response = response_of(agents, task)
    assert response["status"] == "completed" and response["body"] == "I could not change anything."
    meta = response["metadata"]
    assert [d["tool"] for d in meta["permission_denials"]] == ["sandbox", "apply_patch"]
    assert "read_only_file_system" in meta["permission_denials"][0]["target"]
    assert meta["attention"].startswith("2 tool call(s) denied by the read-only preset")


def test_codex_edit_preset_writes_the_tree_and_nothing_outside_it(agents):
    agents.settings(lanes={"dev": {"permissions": "edit"}})
    outside = agents.root / "outside.txt"
    task = agents.submit(lane="dev", metadata={"required_vendor": "codex"})
    agents.drain({"openai": [codex_patch_add("patched.txt"), codex_exec("echo made > by-exec.txt"),
                             codex_exec(f"touch {outside}"), {"text": "done"}]})
    assert (agents.workspace.root / "patched.txt").read_text() == "added by the agent\n"
    assert (agents.workspace.root / "by-exec.txt").read_text() == "made\n"
    assert not outside.exists()
    meta = response_of(agents, task)["metadata"]
    assert meta["permissions"] == "edit" and [d["tool"] for d in meta["permission_denials"]] == ["sandbox"]


def test_codex_trusted_runs_without_a_sandbox_where_the_lane_opts_in(agents):
    agents.settings(lanes={"yolo": {"permissions": "trusted"}})
    outside = agents.root / "outside.txt"
    task = agents.submit(lane="yolo", metadata={"required_vendor": "codex"})
    agents.drain({"openai": [codex_exec(f"touch {outside}"), {"text": "done"}]})
    assert outside.exists()
    meta = response_of(agents, task)["metadata"]
    assert meta["permissions"] == "trusted" and "permission_denials" not in meta
    assert json.loads(json.dumps(meta))["vendor"] == "codex"
