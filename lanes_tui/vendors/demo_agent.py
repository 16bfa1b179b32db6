"""A simulated agent for the `demo` vendor: `python -m lanes_tui.vendors.demo_agent`.

The README quick start runs the whole dashboard without any account or
network: tasks on the `demo` vendor are answered by this script. It behaves
like `claude -p --output-format stream-json --verbose` from the supervisor's
side (prompt on stdin, stream-json on stdout, the same flags accepted), so the
supervisor and the Claude stream parser are exercised unchanged.

It never calls a model and never touches files: the "Read" it reports is
simulated. Small fixed pauses between events (DEMO_AGENT_DELAY seconds,
default 0.25, about 1.5 s in all) let a dashboard show progress; `--fast` or
DEMO_AGENT_DELAY=0 removes them for tests. Apart from `cwd` and the durations,
the output is a function of the prompt (even the session id is derived from
it), which keeps UI snapshots stable.

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
DEFAULT_DELAY = 0.25
MAX_DELAY = 5.0
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


def build_events(prompt: str, session_id: str | None = None, cwd: str = ".") -> list[dict[str, Any]]:
    """The full stream-json run for `prompt`, in order."""
    digest = hashlib.sha256(prompt.encode("utf-8", "surrogatepass")).hexdigest()
    sid = session_id or str(uuid.uuid5(_NAMESPACE, digest))
    path = first_file(prompt)
    answer = answer_for(prompt)
    prompt_tokens = max(1, len(prompt) // 4)  # the usual rough 4 characters per token

    def assistant(n: int, block: dict[str, Any], output_tokens: int) -> dict[str, Any]:
        usage = {"input_tokens": prompt_tokens + 40 * n, "cache_creation_input_tokens": 0,
                 "cache_read_input_tokens": 0, "output_tokens": output_tokens}
        return {"type": "assistant", "message": {
            "id": f"msg_demo_{digest[:12]}_{n}", "type": "message", "role": "assistant", "model": MODEL,
            "content": [block], "stop_reason": None, "stop_sequence": None, "usage": usage,
        }, "parent_tool_use_id": None, "session_id": sid}

    def tool_result(tool_id: str, content: str) -> dict[str, Any]:
        return {"type": "user", "message": {"role": "user", "content": [
            {"tool_use_id": tool_id, "type": "tool_result", "content": content, "is_error": False}]},
            "parent_tool_use_id": None, "session_id": sid}

    answer_tokens = max(1, len(answer) // 4)
    total_in = sum(prompt_tokens + 40 * n for n in (1, 2, 3))
    return [
        {"type": "system", "subtype": "init", "cwd": cwd, "session_id": sid, "tools": ["Read", "Grep"],
         "mcp_servers": [], "model": MODEL, "permissionMode": "default", "apiKeySource": "none"},
        assistant(1, {"type": "text", "text": f"Let me look at {path} first."}, 12),
        assistant(1, {"type": "tool_use", "id": "toolu_demo_1", "name": "Read", "input": {"file_path": path}}, 12),
        tool_result("toolu_demo_1", f"(simulated) {path}: the demo agent does not read files"),
        assistant(2, {"type": "tool_use", "id": "toolu_demo_2", "name": "Grep",
                      "input": {"pattern": "TODO", "path": "."}}, 9),
        tool_result("toolu_demo_2", "(simulated) no matches"),
        assistant(3, {"type": "text", "text": answer}, answer_tokens),
        {"type": "result", "subtype": "success", "is_error": False, "duration_ms": 0, "duration_api_ms": 0,
         "num_turns": 3, "result": answer, "session_id": sid, "total_cost_usd": 0,
         "usage": {"input_tokens": total_in, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
                   "output_tokens": 21 + answer_tokens}},
    ]


def configured_delay(raw: str | None) -> float:
    """Seconds between events from DEMO_AGENT_DELAY's text; bad values get the default.

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
    events = build_events(prompt, cwd=os.getcwd())
    for index, event in enumerate(events):
        if event["type"] == "result":
            event["duration_ms"] = event["duration_api_ms"] = int((time.monotonic() - started) * 1000)
        out.write(json.dumps(event, separators=(",", ":")).encode() + b"\n")
        out.flush()
        if delay and index < len(events) - 1:
            time.sleep(delay)
    return 0


if __name__ == "__main__":
    try:
        status = main()
    except BrokenPipeError:
        os._exit(141)  # the supervisor went away: exit quietly, like a CLI killed by SIGPIPE
    sys.exit(status)
