"""The stream parsers on output the real CLIs printed (tests/vendors/captured, see its README)."""

from __future__ import annotations

from pathlib import Path

from lanes_tui.vendors.streams import ApiRetry, Denied, Outcome, Usage, make_parser

CAPTURED = Path(__file__).resolve().parent / "captured"


def lines(name: str) -> list[bytes]:
    return (CAPTURED / name).read_bytes().splitlines()


def test_claude_read_only_denial_and_running_totals():
    parser = make_parser("claude")
    events = parser.feed_all(lines("claude-read-only-denied.jsonl"))
    summary = parser.summary
    assert summary.outcome is Outcome.ANSWERED and summary.final_answer == "I could not write notes.txt."
    (denied,) = [e for e in events if isinstance(e, Denied)]
    assert (denied.tool, denied.target) == ("Bash", "echo hi > notes.txt")
    assert denied.shown == "Bash: echo hi > notes.txt" and summary.denials == (denied,)
    usage = [e for e in events if isinstance(e, Usage)]
    # With --include-partial-messages the first message's 33 output tokens are known before the
    # second message starts (an `assistant` line alone says 1), and the result confirms the sum.
    assert any(u.tokens_out == 33 and u.cost_usd is None for u in usage)
    assert usage[-1].tokens_out == 33 + 44 and usage[-1].tokens_in == 50 + 70 + 1000
    assert usage[-1].tokens_cached == 1000 and usage[-1].cost_usd is not None
    assert summary.turns == 2 and summary.api_retries == 0 and summary.model == "claude-sonnet-5"


def test_claude_api_retries_are_events_not_failures():
    parser = make_parser("claude")
    events = parser.feed_all(lines("claude-api-retries.jsonl"))
    retries = [e for e in events if isinstance(e, ApiRetry)]
    assert [(r.attempt, r.max_retries, r.status) for r in retries] == [(1, 2, 429), (2, 2, 429)]
    assert retries[0].describe().startswith("API 429, retry 1/2 in ")
    summary = parser.summary
    assert summary.outcome is Outcome.ANSWERED and summary.final_answer == "fine after retries"
    assert summary.api_retries == 2 and not summary.rate_limited


def test_codex_sandbox_denials_come_from_stderr_only():
    parser = make_parser("codex")
    stdout_events = parser.feed_all(lines("codex-read-only-denied.jsonl"))
    assert not [e for e in stdout_events if isinstance(e, Denied)]  # codex's --json leaves them out
    stderr_events = [e for line in lines("codex-read-only-denied.stderr") for e in parser.feed_stderr(line)]
    denied = [e for e in stderr_events if isinstance(e, Denied)]
    assert [(d.tool, d.target) for d in denied] == [
        ("sandbox", "filesystem: read_only_file_system"),
        ("apply_patch", "writing is blocked by read-only sandbox"),
    ]
    summary = parser.summary
    assert summary.outcome is Outcome.ANSWERED and summary.final_answer == "done"
    assert (summary.tokens_in, summary.tokens_out, summary.tokens_cached, summary.tokens_reasoning) == (
        5000 + 200, 700 + 40, 4000, 300)
    assert not summary.rate_limited  # "rejected by user approval settings" is not a limit


def test_codex_reconnect_is_an_api_retry():
    parser = make_parser("codex")
    events = parser.feed_all(lines("codex-reconnect.jsonl"))
    (retry,) = [e for e in events if isinstance(e, ApiRetry)]
    assert (retry.attempt, retry.max_retries, retry.status) == (1, 5, 429)
    assert parser.summary.outcome is Outcome.ANSWERED and parser.summary.error is None
