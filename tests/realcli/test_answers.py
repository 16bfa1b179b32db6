"""The real CLIs under `lanes-tui --no-ui`: answers, tokens, cost and effort as they report them.

Each test submits tasks, drains them with the supervisor in a loopback-only
namespace (the CLIs talk to the model-API stand-in only), then checks what
reached the API (what the CLI was told to do) and what the queue recorded.
"""

from __future__ import annotations

import json
import os

import pytest

from lanes_tui.vendors.pricing import Price, TokenCounts, estimate

from .harness import HERE, cli_version


def completed(agents, task):
    response = agents.store().read_response(task["id"])
    assert response is not None and response["status"] == "completed", response
    return response


def test_the_pinned_versions_are_the_ones_running(agents):
    """tests/realcli/clis pins them; run_versions.py runs this suite on others (then this says which)."""
    pinned = json.loads((HERE / "clis" / "package.json").read_text())["dependencies"]
    if os.environ.get("LANES_TUI_REAL_CLIS"):
        print(f"running against {cli_version('claude')} and {cli_version('codex')}")
        return
    assert cli_version("claude") == f"{pinned['@anthropic-ai/claude-code']} (Claude Code)"
    assert cli_version("codex") == f"codex-cli {pinned['@openai/codex']}"


def test_claude_answer_tokens_cost_and_effort(agents):
    agents.settings()
    usage = {"input_tokens": 1200, "output_tokens": 480, "cache_read_input_tokens": 3000,
             "cache_creation_input_tokens": 400}
    task = agents.submit(prompt="Explain the parser", metadata={"required_vendor": "claude", "model_class": "opus",
                                                                 "effort": "low"})
    box = agents.drain({"anthropic": [{"text": "The parser reads tokens.\nThat is all.", "usage": usage}]})

    (request,) = box.requests()
    body = request["body"]
    assert body["model"] == "claude-opus-4-8" and body["output_config"] == {"effort": "low"}
    assert "Explain the parser" in json.dumps(body["messages"])

    response = completed(agents, task)
    assert response["body"] == "The parser reads tokens.\nThat is all."  # every line, byte for byte
    meta = response["metadata"]
    assert (meta["model_used"], meta["effort_used"], meta["vendor"]) == ("claude-opus-4-8", "low", "claude")
    assert meta["tokens_in"] == 1200 + 3000 + 400 and meta["tokens_out"] == 480
    assert (meta["tokens_cache_read"], meta["tokens_cache_write"]) == (3000, 400)
    # Claude Code's own figure ($5 in, $25 out, $0.50 cache reads, $6.25 cache writes per MTok).
    assert meta["cost_usd"] == pytest.approx((1200 * 5 + 480 * 25 + 3000 * 0.5 + 400 * 6.25) / 1e6)
    assert meta["cost_estimated"] is False and meta["permissions"] == "read-only"
    assert meta["session_id"] and meta["api_retries"] == 0

    # While the run streamed, the running totals were already right (--include-partial-messages):
    # the output tokens before the result, and the estimate from the price table.
    usage_events = box.events()
    streamed = [e for e in usage_events if e["event"] == "worker_usage" and e["cost_estimated"]]
    assert streamed and streamed[-1]["tokens_out"] == 480 and streamed[-1]["tokens_in"] == 4600
    assert streamed[-1]["cost_usd"] == pytest.approx(meta["cost_usd"])


def test_claude_effort_is_left_to_the_cli_when_not_asked_and_haiku_takes_none(agents):
    agents.settings()
    plain = agents.submit(name="plain", metadata={"required_vendor": "claude"})
    haiku = agents.submit(name="haiku", metadata={"required_vendor": "claude", "model_class": "haiku", "effort": "high"})
    box = agents.drain({"anthropic": [{"text": "ok"}]})
    sent = {r["body"]["model"]: r["body"].get("output_config") for r in box.requests()}
    # Nothing passed: the CLI's own default for the model (sonnet: high), recorded as no effort of ours.
    assert sent["claude-sonnet-5"] == {"effort": "high"}
    assert completed(agents, plain)["metadata"]["effort_used"] is None
    # Haiku takes no effort: the CLI sends none, so none is recorded as used.
    assert sent["claude-haiku-4-5"] is None
    assert completed(agents, haiku)["metadata"]["effort_used"] is None


def test_codex_answer_tokens_estimated_cost_and_effort(agents):
    agents.settings()
    usage = {"input_tokens": 5000, "cached_tokens": 4000, "output_tokens": 700, "reasoning_tokens": 300}
    task = agents.submit(prompt="Summarise the change", metadata={"required_vendor": "codex", "effort": "high"})
    box = agents.drain({"openai": [{"text": "A short summary.\nTwo lines.", "usage": usage}]})

    (request,) = box.requests()
    assert request["body"]["model"] == "gpt-6.2-sol" and request["body"]["reasoning"]["effort"] == "high"
    response = completed(agents, task)
    assert response["body"] == "A short summary.\nTwo lines."
    meta = response["metadata"]
    assert (meta["model_used"], meta["effort_used"], meta["vendor"]) == ("gpt-6.2-sol", "high", "codex")
    assert (meta["tokens_in"], meta["tokens_out"]) == (5000, 700)
    assert (meta["tokens_cache_read"], meta["tokens_reasoning"]) == (4000, 300)
    # Codex reports no cost: the price table's estimate ($2 in, $0.10 cached, $10 out), marked so.
    price = Price(input=2, output=10, cache_read=0.1, cache_write=2.5)
    assert meta["cost_usd"] == pytest.approx(estimate(price, TokenCounts(5000, 700, 4000, 0, 300)))
    assert meta["cost_estimated"] is True


def test_a_custom_vendor_is_parsed_by_its_stream_setting_not_its_name(agents):
    """Issue 9: a vendor `codex-ws` with `stream: codex` used to be parsed as claude and failed."""
    agents.settings(vendors={"codex-ws": {"executable": "codex", "stream": "codex",
                                          "args": ["exec", "--json", "-m", "{model}", "{permissions}",
                                                   "--skip-git-repo-check", "-"],
                                          "models": {"any": "gpt-6.2-sol"},
                                          "permissions": {"read-only": ["-s", "read-only"]},
                                          "env": {"allow": ["OPENAI_*", "CODEX_*"]}}})
    task = agents.submit(metadata={"required_vendor": "codex-ws"})
    agents.drain({"openai": [{"text": "from codex-ws"}]})
    response = completed(agents, task)
    assert response["body"] == "from codex-ws" and response["metadata"]["vendor"] == "codex-ws"
