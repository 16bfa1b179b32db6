"""A simulated agent for the `demo` vendor: `python -m lanes_tui.vendors.demo_agent`.

The README quick start runs the whole dashboard without any account or
network: tasks on the `demo` vendor are answered by this script. It behaves
like `claude -p --output-format stream-json --verbose` from the supervisor's
side (prompt on stdin, stream-json on stdout, the same flags accepted), so the
supervisor and the Claude stream parser are exercised unchanged.

It never calls a model and never touches files: the reads and searches it
reports are simulated. A run is a short script (thinking, a message, tool calls
and their results, the answer) paced like a real agent: each event comes some
beats after the one before (thinking takes longer than a tool result), and
DEMO_AGENT_DELAY says how many seconds a beat is (default 0.25, about 2 s a
run). `lanes-tui demo` sets it, divided by its --speed: TOUR_DELAY in the
dashboard (about 18 s a run, time to watch a transcript stream), the default
headless. `--fast` or DEMO_AGENT_DELAY=0 removes the pauses for tests. The init event names the
seconds per beat in effect (`demo_seconds_per_beat`, a field Claude's parsers
ignore), so a test can see the pace without timing it. Apart from `cwd`, the
pace and the durations, the output is a function of the prompt (even the
session id is derived from it), which keeps UI snapshots stable.

Stdlib only and import-light: it starts as a fresh process for every task.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import time
import uuid
from typing import Any

MODEL = "demo"
DEFAULT_DELAY = 0.25  # seconds per beat when DEMO_AGENT_DELAY is not set: a quick run
TOUR_DELAY = 2.0  # seconds per beat `lanes-tui demo` asks for in the dashboard at --speed 1
MAX_DELAY = 20.0  # TOUR_DELAY at the slowest --speed (0.1); a bigger typo is clamped, not a hang
# Something that looks like a file name: "src/app.py", "README.md", "docs/a-b.txt".
_FILE = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w-]+\.[A-Za-z][A-Za-z0-9]{0,7})(?![\w/])")
_NAMESPACE = uuid.UUID("5b0c9f4e-4a0e-4e55-9d8a-6c1f1d0d2d7e")


def first_file(prompt: str) -> str:
    """The first file name mentioned in the prompt, or README.md."""
    for match in _FILE.finditer(prompt):
        name = match.group(1)
        # "e.g" and "i.e" look like files; a bare one-letter stem is not worth the risk.
        if "/" in name or len(name.rsplit(".", 1)[0]) > 1:
            return name
    return "README.md"


def first_line(prompt: str, limit: int = 200) -> str:
    for line in prompt.splitlines():
        if line.strip():
            line = line.strip()
            return line if len(line) <= limit else line[: limit - 1] + "\u2026"
    return ""


def answer_for(prompt: str) -> str:
    words = len(prompt.split())
    lines = len(prompt.splitlines())
    return (
        "Demo answer (simulated agent: no model was called, no file was read).\n\n"
        f"Task: {first_line(prompt)}\n"
        f"Looked at: {first_file(prompt)}\n"
        f"The prompt has {words} word{'s' if words != 1 else ''} in {lines} line{'s' if lines != 1 else ''}."
    )


def script(prompt: str, session_id: str | None = None, cwd: str = ".",
           delay: float = 0.0) -> list[tuple[float, dict[str, Any]]]:
    """The full stream-json run for `prompt`, in order: (beats to wait before it, event).
    `delay` (seconds per beat) is only reported, in the init event."""
    digest = hashlib.sha256(prompt.encode("utf-8", "surrogatepass")).hexdigest()
    sid = session_id or str(uuid.uuid5(_NAMESPACE, digest))
    path = first_file(prompt)
    answer = answer_for(prompt)
    prompt_tokens = max(1, len(prompt) // 4)  # the usual rough 4 characters per token

    def assistant(n: int, block: dict[str, Any], output_tokens: int) -> dict[str, Any]:
        # One API message per turn n; Claude repeats its id and usage on each of its blocks.
        usage = {"input_tokens": prompt_tokens + 40 * n, "cache_creation_input_tokens": 0,
                 "cache_read_input_tokens": 0, "output_tokens": output_tokens}
        return {"type": "assistant", "message": {
            "id": f"msg_demo_{digest[:12]}_{n}", "type": "message", "role": "assistant", "model": MODEL,
            "content": [block], "stop_reason": None, "stop_sequence": None, "usage": usage,
        }, "parent_tool_use_id": None, "session_id": sid}

    def thinking(n: int, text: str, output_tokens: int) -> dict[str, Any]:
        block = {"type": "thinking", "thinking": text, "signature": f"demo-{digest[:16]}-{n}"}
        return assistant(n, block, output_tokens)

    def tool_use(n: int, name: str, tool_input: dict[str, Any]) -> dict[str, Any]:
        return assistant(n, {"type": "tool_use", "id": f"toolu_demo_{n}", "name": name, "input": tool_input}, 12)

    def tool_result(n: int, content: str) -> dict[str, Any]:
        return {"type": "user", "message": {"role": "user", "content": [
            {"tool_use_id": f"toolu_demo_{n}", "type": "tool_result", "content": content, "is_error": False}]},
            "parent_tool_use_id": None, "session_id": sid}

    init = {"type": "system", "subtype": "init", "cwd": cwd, "session_id": sid, "tools": ["Read", "Grep"],
            "mcp_servers": [], "model": MODEL, "permissionMode": "default", "apiKeySource": "none",
            "demo_seconds_per_beat": delay}
    # Beats before each event: thinking and writing take a while, a simulated tool answers fast.
    steps = [
        (0.0, init),
        (1.5, thinking(1, f"The task: {first_line(prompt, 120)}\nRead {path} first.", 30)),
        (0.5, assistant(1, {"type": "text", "text": f"Let me look at {path} first."}, 12)),
        (0.5, tool_use(1, "Read", {"file_path": path})),
        (0.5, tool_result(1, f"(simulated) {path}: the demo agent does not read files")),
        (1.5, thinking(2, f"Nothing was read (a demo). Next: loose ends around {path}.", 18)),
        (0.5, assistant(2, {"type": "text", "text": "Now a search for TODO notes."}, 9)),
        (0.5, tool_use(2, "Grep", {"pattern": "TODO", "path": "."})),
        (0.5, tool_result(2, "(simulated) no matches")),
        (1.5, thinking(3, "That is all a simulated agent can find out: time to write the answer.", 16)),
        (1.0, assistant(3, {"type": "text", "text": answer}, max(1, len(answer) // 4))),
    ]
    return [*steps, (0.5, _result(answer, sid, [event for _beats, event in steps]))]


def _result(answer: str, sid: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    """The closing `result`: the run's totals, each message's usage counted once (Claude repeats
    it on every block of the message)."""
    usage: dict[str, dict[str, int]] = {}
    for event in events:
        if event["type"] == "assistant":
            message = event["message"]
            known = usage.setdefault(message["id"], {})
            for name, value in message["usage"].items():
                known[name] = max(known.get(name, 0), value)
    totals = {name: sum(u.get(name, 0) for u in usage.values()) for name in
              ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "output_tokens")}
    return {"type": "result", "subtype": "success", "is_error": False, "duration_ms": 0, "duration_api_ms": 0,
            "num_turns": len(usage), "result": answer, "session_id": sid, "total_cost_usd": 0, "usage": totals}


def build_events(prompt: str, session_id: str | None = None, cwd: str = ".") -> list[dict[str, Any]]:
    """The full stream-json run for `prompt`, in order, without the pacing."""
    return [event for _beats, event in script(prompt, session_id, cwd)]


def configured_delay(raw: str | None) -> float:
    """Seconds per beat from DEMO_AGENT_DELAY's text; bad values get the default.

    Clamped to [0, MAX_DELAY]: a typo must not make the demo hang or fail.
    """
    if raw is None:
        return DEFAULT_DELAY
    try:
        value = float(raw)
    except ValueError:
        return DEFAULT_DELAY
    if value != value:  # NaN
        return DEFAULT_DELAY
    return min(max(value, 0.0), MAX_DELAY)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lanes_tui.vendors.demo_agent", allow_abbrev=False,
                                     description="Simulated agent for the demo vendor (claude stream-json).")
    parser.add_argument("--fast", action="store_true", help="no pauses between events")
    # Claude's flags are accepted so one argv table serves both; unknown ones are ignored.
    args, _unknown = parser.parse_known_args(argv)
    prompt = sys.stdin.buffer.read().decode("utf-8", "replace")  # all of stdin first, like claude
    if not prompt.strip():
        sys.stderr.write("Error: Input must be provided either through stdin or as a prompt argument\n")
        return 1
    delay = 0.0 if args.fast else configured_delay(os.environ.get("DEMO_AGENT_DELAY"))
    started = time.monotonic()
    out = sys.stdout.buffer
    for beats, event in script(prompt, cwd=os.getcwd(), delay=delay):
        if delay and beats:
            time.sleep(beats * delay)
        if event["type"] == "result":
            event["duration_ms"] = event["duration_api_ms"] = int((time.monotonic() - started) * 1000)
        out.write(json.dumps(event, separators=(",", ":")).encode() + b"\n")
        out.flush()
    return 0


if __name__ == "__main__":
    try:
        status = main()
    except BrokenPipeError:
        os._exit(141)  # the supervisor went away: exit quietly, like a CLI killed by SIGPIPE
    sys.exit(status)
