#!/usr/bin/env python3
"""Stand-in for the `claude` and `codex` CLIs, for tests (stdlib only).

The real CLIs need network and accounts, so tests put executables named
`claude` and `codex` first on PATH that run this script:

    python agent_standin.py claude [claude args...]
    python agent_standin.py codex  [codex args...]

`tests/helpers/standins.py` writes those wrappers (`install_standins`) and
builds the environment (`standin_env`). Like the real CLIs, the stand-in reads
the whole prompt from stdin first, prints the vendor's real stream format and
exits with the real statuses (non-zero on error). It checks the argv the way
the real tools would fail: `claude` needs `-p`, `--output-format stream-json`
needs `--verbose`, `codex` needs `exec`; an empty prompt is an error.

Behaviour is chosen by STANDIN_MODE:

    ok                       full successful stream, exit 0
    slow                     the same, STANDIN_DELAY seconds (default 0.5) between lines
    hang                     first line, then blocks forever (SIGTERM ends it)
    ignore_sigterm           ignores SIGTERM (set before the first line), first line, blocks
    flood                    STANDIN_FLOOD_MB (default 64) MB of valid events of
                             STANDIN_FLOOD_LINE_KB (default 64) KB each, then the rest, exit 0
    huge_line                one STANDIN_HUGE_MB (default 20) MB line (a tool result; with
                             STANDIN_HUGE_KIND=plain a non-JSON line), then the rest, exit 0
    crash_mid_output         half the stream and a torn line, then SIGKILLs itself
    grandchild_holds_stdout  spawns a grandchild in its process group that sleeps
                             STANDIN_GRANDCHILD_SECONDS (default 60) holding stdout and
                             stderr, prints a full stream, exits 0
    rate_limit               the vendor's rate-limit / usage-limit failure, exit 1
    error_result             the vendor's error result (claude error_max_turns,
                             codex turn.failed), exit 1
    no_result                the stream without its final result event, exit 0
    dump                     writes {vendor, argv, env, stdin_sha256, stdin_len, stdin} as JSON to
                             STANDIN_DUMP_FILE (atomically), then behaves like ok

Other knobs: STANDIN_ANSWER (final answer text; the default names the prompt's
length and sha256 so tests can check the prompt arrived intact),
STANDIN_SESSION_ID, STANDIN_MODEL, STANDIN_EXIT (exit status of a completed
run), STANDIN_RATE_LIMIT_TEXT, STANDIN_API_RETRIES (that many API retries reported
first, as each CLI words them), STANDIN_DENY (a tool call the permission rules
refused, "Tool:target": claude lists it in the result's permission_denials, codex
logs it on stderr as its sandbox does). `argv` in the dump excludes the program name.
STANDIN_WRITE=NAME=TEXT edits a file in the working directory, STANDIN_FAIL_ONCE=FILE fails
the first run, STANDIN_BARRIER=DIR:COUNT waits for COUNT agents (see the functions below).
STANDIN_ALIVE_LOG=FILE: as its first act, the stand-in appends one JSON line to FILE saying
it lives: {"task": $LANES_TASK_ID, "agent": $LANES_AGENT_ID, "pid", "start_ticks" (its
/proc/<pid>/stat start time, which tells its pid from a reused one), "monotonic" (CLOCK_MONOTONIC,
comparable between processes of one machine)}, in one O_APPEND write, so concurrent agents'
lines never interleave. Its death is for the reader to see (a SIGKILL leaves no last word).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid

CLAUDE_MODEL = "claude-sonnet-4-5-20250929"
MODES = ("ok", "slow", "hang", "ignore_sigterm", "flood", "huge_line", "crash_mid_output",
         "grandchild_holds_stdout", "rate_limit", "error_result", "no_result", "dump")


class Usage(Exception):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


def option(args: list[str], *names: str) -> str | None:
    """Value of `--name value` or `--name=value` (last one wins, like most CLIs)."""
    found = None
    for index, arg in enumerate(args):
        for name in names:
            if arg == name and index + 1 < len(args):
                found = args[index + 1]
            elif name.startswith("--") and arg.startswith(name + "="):
                found = arg.split("=", 1)[1]
    return found


# --- output --------------------------------------------------------------------


class Out:
    """Line-at-a-time writer: every line is flushed at once, like the real CLIs."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.stream = sys.stdout.buffer

    def raw(self, data: bytes) -> None:
        self.stream.write(data)
        self.stream.flush()

    def line(self, item: object) -> None:
        data = item if isinstance(item, bytes) else encode(item)
        self.raw(data + b"\n")
        if self.delay:
            time.sleep(self.delay)


def encode(item: object) -> bytes:
    if isinstance(item, str):
        return item.encode()
    return json.dumps(item, separators=(",", ":")).encode()


# --- runs ---------------------------------------------------------------------


class Run:
    """What one invocation knows: vendor, argv, prompt and the derived ids."""

    def __init__(self, vendor: str, args: list[str], prompt: bytes) -> None:
        self.vendor = vendor
        self.args = args
        self.prompt = prompt
        digest = hashlib.sha256(prompt).hexdigest()
        first = prompt.decode("utf-8", "replace").strip().splitlines()
        self.answer = os.environ.get("STANDIN_ANSWER") or (
            f"Stand-in {vendor} answer.\nprompt: {len(prompt)} bytes, sha256 {digest}\n"
            f"first line: {first[0][:200] if first else ''}"
        )
        self.session_id = (os.environ.get("STANDIN_SESSION_ID") or option(args, "--session-id", "--resume", "-r")
                           or str(uuid.uuid4()))
        self.model = os.environ.get("STANDIN_MODEL") or option(args, "--model", "-m")
        self.cwd = os.getcwd()


def claude_stream(run: Run, mode: str) -> tuple[list[object], int]:
    """(events, exit status) in `claude -p --output-format stream-json --verbose` form."""
    sid, model = run.session_id, run.model or CLAUDE_MODEL
    init = {"type": "system", "subtype": "init", "cwd": run.cwd, "session_id": sid,
            "tools": ["Task", "Bash", "Glob", "Grep", "Read", "Edit", "Write", "TodoWrite", "WebFetch"],
            "mcp_servers": [], "model": model, "permissionMode": "default", "slash_commands": ["compact", "review"],
            "apiKeySource": "none", "output_style": "default", "uuid": str(uuid.uuid4())}
    usage_1 = {"input_tokens": 4, "cache_creation_input_tokens": 4211, "cache_read_input_tokens": 12093,
               "output_tokens": 61, "service_tier": "standard"}
    usage_2 = {"input_tokens": 6, "cache_creation_input_tokens": 318, "cache_read_input_tokens": 16304,
               "output_tokens": 187, "service_tier": "standard"}

    def assistant(msg_id: str, block: dict, usage: dict) -> dict:
        return {"type": "assistant", "message": {
            "id": msg_id, "type": "message", "role": "assistant", "model": model, "content": [block],
            "stop_reason": None, "stop_sequence": None, "usage": usage,
        }, "parent_tool_use_id": None, "session_id": sid, "uuid": str(uuid.uuid4())}

    events: list[object] = [
        init,
        assistant("msg_01Standin1", {"type": "text", "text": "I'll look at the project layout first."}, usage_1),
        assistant("msg_01Standin1", {"type": "tool_use", "id": "toolu_01Standin", "name": "Bash",
                                     "input": {"command": "ls -la", "description": "List files"}}, usage_1),
        {"type": "user", "message": {"role": "user", "content": [{
            "tool_use_id": "toolu_01Standin", "type": "tool_result", "is_error": False,
            "content": "total 8\ndrwxr-xr-x 2 dev dev 4096 .\n-rw-r--r-- 1 dev dev  120 README.md"}]},
         "parent_tool_use_id": None, "session_id": sid, "uuid": str(uuid.uuid4())},
        assistant("msg_01Standin2", {"type": "text", "text": run.answer}, usage_2),
    ]
    total = {"input_tokens": 10, "cache_creation_input_tokens": 4529, "cache_read_input_tokens": 28397,
             "output_tokens": 248, "server_tool_use": {"web_search_requests": 0}, "service_tier": "standard"}
    result = {"type": "result", "subtype": "success", "is_error": False, "duration_ms": 8123,
              "duration_api_ms": 7755, "num_turns": 2, "result": run.answer, "session_id": sid,
              "total_cost_usd": 0.0336477, "usage": total, "permission_denials": [], "uuid": str(uuid.uuid4())}
    if mode == "rate_limit":
        # What Claude Code 2.1.197 prints once its own retries of a 429 are used up (tests/realcli).
        text = os.environ.get("STANDIN_RATE_LIMIT_TEXT") or (
            "API Error: Request rejected (429) \u00b7 Number of request tokens has exceeded your per-minute rate limit")
        zero = {"input_tokens": 0, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
                "output_tokens": 0}
        return [init, {**result, "is_error": True, "result": text, "num_turns": 1, "duration_ms": 412,
                       "total_cost_usd": 0, "usage": zero, "api_error_status": 429}], 1
    if mode == "error_result":
        failed = {k: v for k, v in result.items() if k != "result"}
        failed.update(subtype="error_max_turns", is_error=True, num_turns=2)
        return [*events[:4], failed], 1
    if mode == "no_result":
        return events, 0
    retries = [{"type": "system", "subtype": "api_retry", "attempt": n, "max_retries": 2, "retry_delay_ms": 500 * n,
                "error_status": 429, "error": "rate_limit", "session_id": sid, "uuid": str(uuid.uuid4())}
               for n in range(1, int(os.environ.get("STANDIN_API_RETRIES") or 0) + 1)]
    deny = os.environ.get("STANDIN_DENY")
    if deny:
        tool, _, target = deny.partition(":")
        result = {**result, "permission_denials": [
            {"tool_name": tool, "tool_use_id": "toolu_01Denied", "tool_input": {"file_path": target}}]}
    return [events[0], *retries, *events[1:], result], 0


def codex_stream(run: Run, mode: str) -> tuple[list[object], int]:
    """(events, exit status) in `codex exec --json` form."""
    started = {"type": "thread.started", "thread_id": run.session_id}
    command = "bash -lc 'ls -la'"
    events: list[object] = [
        started,
        {"type": "turn.started"},
        {"type": "item.completed", "item": {"id": "item_0", "type": "reasoning",
                                            "text": "**Inspecting the repository**\n\nListing files first."}},
        {"type": "item.started", "item": {"id": "item_1", "type": "command_execution", "command": command,
                                          "aggregated_output": "", "exit_code": None, "status": "in_progress"}},
        {"type": "item.completed", "item": {"id": "item_1", "type": "command_execution", "command": command,
                                            "aggregated_output": "total 8\n-rw-r--r-- 1 dev dev 120 README.md\n",
                                            "exit_code": 0, "status": "completed"}},
        {"type": "item.completed", "item": {"id": "item_2", "type": "agent_message", "text": run.answer}},
    ]
    completed = {"type": "turn.completed",
                 "usage": {"input_tokens": 24763, "cached_input_tokens": 24448, "output_tokens": 122}}
    if mode == "rate_limit":
        text = os.environ.get("STANDIN_RATE_LIMIT_TEXT") or "exceeded retry limit, last status: 429 Too Many Requests"
        sys.stderr.write(f"ERROR: {text}\n")
        sys.stderr.flush()
        return [started, {"type": "turn.started"}, {"type": "error", "message": text},
                {"type": "turn.failed", "error": {"message": text}}], 1
    if mode == "error_result":
        text = "unexpected status 400 Bad Request: invalid request"
        return [*events[:5], {"type": "error", "message": text}, {"type": "turn.failed", "error": {"message": text}}], 1
    if mode == "no_result":
        return events, 0
    retries = [{"type": "error", "message": f"Reconnecting... {n}/5 (exceeded retry limit, last status: 429 Too Many Requests)"}
               for n in range(1, int(os.environ.get("STANDIN_API_RETRIES") or 0) + 1)]
    if os.environ.get("STANDIN_DENY"):
        sys.stderr.write("2026-12-02T01:09:53.444455Z  WARN codex_sandboxing::violation: recorded sandbox violation: "
                         "resource=filesystem backend=linux_sandbox reason=read_only_file_system path=unknown\n")
        sys.stderr.flush()
    return [*events[:2], *retries, *events[2:], completed], 0


def filler(vendor: str, size: int) -> dict:
    """A realistic event carrying `size` bytes of tool output."""
    blob = "x" * size
    if vendor == "claude":
        return {"type": "user", "message": {"role": "user", "content": [
            {"tool_use_id": "toolu_01Standin", "type": "tool_result", "content": blob}]},
            "parent_tool_use_id": None, "session_id": "flood"}
    return {"type": "item.completed", "item": {"id": "item_flood", "type": "command_execution",
                                               "command": "bash -lc 'cat big.log'", "aggregated_output": blob,
                                               "exit_code": 0, "status": "completed"}}


# --- argv checks, like the real tools ----------------------------------------------


def check_claude(args: list[str]) -> str:
    if "-p" not in args and "--print" not in args:
        raise Usage("standin: claude without -p would start the interactive UI", 2)
    fmt = option(args, "--output-format") or "text"
    if fmt not in ("text", "json", "stream-json"):
        raise Usage(f"error: option '--output-format <format>' argument '{fmt}' is invalid.", 1)
    if fmt == "stream-json" and "--verbose" not in args:
        raise Usage("Error: When using --print, --output-format=stream-json requires --verbose", 1)
    return fmt


def check_codex(args: list[str]) -> str:
    if not args or args[0] not in ("exec", "e"):
        raise Usage("standin: only `codex exec` is emulated", 2)
    if len(args) > 2 and args[1] == "resume":
        os.environ.setdefault("STANDIN_SESSION_ID", args[2])
    return "json" if "--json" in args else "text"


def render(vendor: str, fmt: str, run: Run, events: list[object]) -> list[object]:
    """Lines as the chosen output format prints them."""
    if vendor == "claude" and fmt != "stream-json":
        results = [e for e in events if isinstance(e, dict) and e.get("type") == "result"]
        if fmt == "json":
            return results
        return [str(r.get("result") or r.get("subtype")) for r in results]
    if vendor == "codex" and fmt != "json":
        # Without --json, progress goes to stderr and only the last message to stdout.
        sys.stderr.write("[stand-in] codex exec: working\n")
        done = any(isinstance(e, dict) and e.get("type") == "turn.completed" for e in events)
        return [run.answer] if done else []
    return events


# --- modes ----------------------------------------------------------------------


def block_forever() -> None:
    while True:
        signal.pause()


def emit(mode: str, vendor: str, lines: list[object], out: Out) -> None:
    if mode in ("hang", "ignore_sigterm"):
        if lines:
            out.line(lines[0])
        block_forever()
    if mode == "crash_mid_output":
        half = max(1, len(lines) // 2)
        for item in lines[:half]:
            out.line(item)
        torn = encode(lines[half]) if half < len(lines) else b'{"type":"assistant","mess'
        out.raw(torn[: max(1, len(torn) // 2)])  # a torn line, no newline
        os.kill(os.getpid(), signal.SIGKILL)
    if mode == "grandchild_holds_stdout":
        seconds = env_float("STANDIN_GRANDCHILD_SECONDS", 60)
        # Same process group (no new session) and the same stdout/stderr: a reader
        # waiting for EOF would wait for the grandchild too.
        child = subprocess.Popen([sys.executable, "-c", f"import time; time.sleep({seconds!r})"],
                                 stdin=subprocess.DEVNULL)
        sys.stderr.write(f"stand-in: grandchild pid {child.pid}\n")
        sys.stderr.flush()
    first, rest = lines[:1], lines[1:]
    for item in first:
        out.line(item)
    if mode == "flood":
        line_size = max(1, int(env_float("STANDIN_FLOOD_LINE_KB", 64) * 1024))
        data = encode(filler(vendor, line_size)) + b"\n"
        remaining = int(env_float("STANDIN_FLOOD_MB", 64) * (1 << 20))
        while remaining > 0:
            out.raw(data)
            remaining -= len(data)
    elif mode == "huge_line":
        size = int(env_float("STANDIN_HUGE_MB", 20) * (1 << 20))
        if os.environ.get("STANDIN_HUGE_KIND") == "plain":
            out.raw(b"h" * size + b"\n")
        else:
            out.raw(encode(filler(vendor, size)) + b"\n")
    for item in rest:
        out.line(item)


def write_dump(vendor: str, args: list[str], prompt: bytes) -> None:
    path = os.environ.get("STANDIN_DUMP_FILE")
    if not path:
        raise Usage("standin: STANDIN_MODE=dump needs STANDIN_DUMP_FILE", 64)
    data = {"vendor": vendor, "argv": args, "env": dict(os.environ),
            "stdin_sha256": hashlib.sha256(prompt).hexdigest(), "stdin_len": len(prompt),
            "stdin": prompt.decode("utf-8", "replace")}
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)  # readers never see half a dump


def edit_working_tree() -> None:
    """STANDIN_WRITE=NAME=TEXT: edit a file where the agent runs (its cwd), as an Edit tool would;
    the text gets the task id appended, so parallel agents write different contents. `{task}` in
    NAME becomes a short hash of the task id: each task edits a file of its own."""
    spec = os.environ.get("STANDIN_WRITE")
    if spec:
        name, _, text = spec.partition("=")
        task_hash = hashlib.sha256(os.environ.get("LANES_TASK_ID", "").encode()).hexdigest()[:8]
        name = name.replace("{task}", task_hash)
        with open(name, "w", encoding="utf-8") as handle:
            handle.write(f"{text} {os.environ.get('LANES_TASK_ID', '')}\n")


def meet_the_others() -> bool:
    """STANDIN_BARRIER=DIR:COUNT: say we are here (a file in DIR), then wait until COUNT agents
    are (up to 30 s; False if they never are): proves that many ran at the same time."""
    spec = os.environ.get("STANDIN_BARRIER")
    if not spec:
        return True
    folder, _, count = spec.rpartition(":")
    os.makedirs(folder, exist_ok=True)
    open(os.path.join(folder, str(os.getpid())), "w").close()
    deadline = time.monotonic() + 30
    while len(os.listdir(folder)) < int(count):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)  # the agents' own rendezvous, not the test's synchronisation
    return True


def announce_alive() -> None:
    """STANDIN_ALIVE_LOG=FILE: one line in FILE saying which task's agent this process is."""
    path = os.environ.get("STANDIN_ALIVE_LOG")
    if not path:
        return
    with open(f"/proc/{os.getpid()}/stat", "rb") as handle:
        start_ticks = int(handle.read().rsplit(b")", 1)[1].split()[19])  # field 22: after comm, the 20th
    line = json.dumps({"task": os.environ.get("LANES_TASK_ID", ""), "agent": os.environ.get("LANES_AGENT_ID", ""),
                       "pid": os.getpid(), "start_ticks": start_ticks, "monotonic": time.monotonic()}) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())  # one write of a short line: appended whole, never torn by another's
    finally:
        os.close(fd)


def main(argv: list[str]) -> int:
    announce_alive()
    mode = os.environ.get("STANDIN_MODE", "ok")
    if mode == "ignore_sigterm":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # before anything is printed
    if len(argv) < 2 or argv[1] not in ("claude", "codex"):
        sys.stderr.write("usage: agent_standin.py claude|codex [args...]\n")
        return 64
    if mode not in MODES:
        sys.stderr.write(f"standin: unknown STANDIN_MODE {mode!r}\n")
        return 64
    vendor, args = argv[1], argv[2:]
    prompt = sys.stdin.buffer.read()  # both CLIs read all of stdin before starting
    try:
        if mode == "dump":
            write_dump(vendor, args, prompt)
        fmt = check_claude(args) if vendor == "claude" else check_codex(args)
        if not prompt.strip():
            raise Usage("Error: Input must be provided either through stdin or as a prompt argument"
                        if vendor == "claude" else "No prompt provided via stdin.", 1)
    except Usage as exc:
        sys.stderr.write(f"{exc}\n")
        return exc.status
    edit_working_tree()
    if not meet_the_others():
        sys.stderr.write("standin: STANDIN_BARRIER: the other agents never came\n")
        return 1
    run = Run(vendor, args, prompt)
    events, status = (claude_stream if vendor == "claude" else codex_stream)(run, mode)
    lines = render(vendor, fmt, run, events)
    emit(mode, vendor, lines, Out(env_float("STANDIN_DELAY", 0.5) if mode == "slow" else 0.0))
    if vendor == "codex" and status == 0 and mode != "no_result":
        last = option(args, "-o", "--output-last-message")
        if last:
            with open(last, "w", encoding="utf-8") as handle:
                handle.write(run.answer)
    if status == 0 and "STANDIN_EXIT" in os.environ:
        status = int(os.environ["STANDIN_EXIT"])
    once = os.environ.get("STANDIN_FAIL_ONCE")  # a marker file: the first run makes it and exits 1
    if status == 0 and once and not os.path.exists(once):
        open(once, "x").close()
        status = 1
    return status


if __name__ == "__main__":
    try:
        code = main(sys.argv)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away: die quietly, like a CLI killed by SIGPIPE.
        os._exit(141)
    sys.exit(code)
