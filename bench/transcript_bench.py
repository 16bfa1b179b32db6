#!/usr/bin/env python3
"""Opening a transcript: lanes-tui's first read of a 20 MB attempt log, against the tools a user
would otherwise point at the log, same machine, same run.

The log is Claude Code stream-json as a long run writes it (assistant messages, tool calls,
tool results of a few KB, a result), 20 MB. lanes-tui's side is what the log screen does when
it opens (`TaskTranscript.update` on a fresh object: the last 4 MB parsed into entries and
drawn into display lines), in process. The others: `jq -c .` over the whole log (what one
runs to read it), and `tail -c 4M | jq -cR 'fromjson? // empty'` (the same bytes lanes-tui reads). Each is run
`--rounds` times, alternating; the median is shown.

    python bench/transcript_bench.py                 # 20 MB, 7 rounds
    python bench/transcript_bench.py --mb 50 --rounds 3 --markdown-out /tmp/t.md
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import log, machine_line, publish  # noqa: E402

from lanes_tui.engine.attempt_transcript import TAIL_BYTES, TaskTranscript  # noqa: E402


def write_log(path: Path, megabytes: int) -> int:
    """A stream-json log of about `megabytes` MB; returns its line count."""
    turn = [
        {"type": "assistant", "message": {"id": "m", "content": [{"type": "text", "text": "Next I read the module.\n"
                                                                   "It builds rows, then prints them."}]}},
        {"type": "assistant", "message": {"id": "m", "content": [{"type": "tool_use", "id": "t", "name": "Read",
                                                                   "input": {"file_path": "src/app.py"}}]}},
        {"type": "user", "message": {"content": [{"type": "tool_result", "tool_use_id": "t",
                                                  "content": "\n".join(f"{i:5} line of code" for i in range(200))}]}},
    ]
    chunk = "".join(json.dumps(item) + "\n" for item in turn).encode()
    lines = 0
    with path.open("wb") as out:
        out.write(b'{"type":"system","subtype":"init","session_id":"s","model":"claude-sonnet-4-6"}\n')
        while out.tell() < megabytes << 20:
            out.write(chunk)
            lines += len(turn)
        out.write(b'{"type":"result","subtype":"success","result":"done","num_turns":9}\n')
    return lines + 2


def tail_into_jq(jq: str, path: Path) -> None:
    """`tail -c 4M log | jq -cR 'fromjson? // empty'` as two processes and a pipe (no shell): each
    line parsed on its own, as the tail starts mid-line (plain `jq .` would stop at that line)."""
    tail = subprocess.Popen(["tail", "-c", str(TAIL_BYTES), str(path)], stdout=subprocess.PIPE)
    subprocess.run([jq, "-cR", "fromjson? // empty"], stdin=tail.stdout, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert tail.stdout is not None
    tail.stdout.close()
    tail.wait()


def timed(run) -> float:
    start = time.perf_counter()
    run()
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--markdown-out", type=Path)
    args = parser.parse_args()
    jq = shutil.which("jq")
    with tempfile.TemporaryDirectory(prefix="lanes-tui-transcript-bench-") as tmp:
        folder = Path(tmp) / "logs" / "task"
        folder.mkdir(parents=True)
        path = folder / "attempt-1.log"
        lines = write_log(path, args.mb)
        log(f"{path.stat().st_size / (1 << 20):.1f} MB, {lines:,} lines")
        results: dict[str, list[float]] = {"lanes-tui (log screen opens: last 4 MB)": []}
        if jq:
            results["jq -c . (whole log)"] = []
            results["tail -c 4M \\| jq -cR 'fromjson? // empty'"] = []
        shown = 0
        for round_no in range(args.rounds):
            transcript = TaskTranscript(path)
            results["lanes-tui (log screen opens: last 4 MB)"].append(timed(lambda: transcript.update()))
            shown = len(transcript.render())
            if jq:
                results["jq -c . (whole log)"].append(timed(lambda: subprocess.run(
                    [jq, "-c", "."], stdin=path.open("rb"), stdout=subprocess.DEVNULL, check=True)))
                results["tail -c 4M \\| jq -cR 'fromjson? // empty'"].append(timed(lambda: tail_into_jq(jq, path)))
            log(f"round {round_no + 1}/{args.rounds}")
        rows = [f"| {name} | {statistics.median(values):.0f} ms |" for name, values in results.items()]
        table = "\n".join([
            f"Opening the transcript of a {args.mb} MB attempt log ({lines:,} lines; lanes-tui shows {shown:,} "
            f"display lines), median of {args.rounds}",
            "",
            machine_line(Path(tmp), packages=()),
            "",
            "| reader | time |",
            "|---|---|",
            *rows,
            "",
        ])
    publish(table, args.markdown_out)


if __name__ == "__main__":
    main()
