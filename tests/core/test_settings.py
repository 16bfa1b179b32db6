import sys
from pathlib import Path

import pytest

from lanes_tui.core.errors import ConfigError
from lanes_tui.settings import (
    DEFAULT_ENV_ALLOW,
    LaneMode,
    LaneSettings,
    load_settings,
    worker_environment,
)


def write(folder: Path, text: str, name: str = "lanes-tui.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_any_file(tmp_path):
    s = load_settings(None, config_dir=tmp_path)  # folder exists, file does not
    assert s.path is None
    assert sorted(s.vendors) == ["claude", "codex", "demo"]
    claude, codex, demo = s.vendor("claude"), s.vendor("codex"), s.vendor("demo")
    assert claude.executable == ("claude",) and codex.executable == ("codex",)
    assert demo.executable == (sys.executable, "-m", "lanes_tui.vendors.demo_agent")
    # Model names the pinned CLIs know (Claude Code 2.1.197's aliases, codex 0.171.0's catalog).
    assert dict(claude.models) == {"opus": "claude-opus-4-8", "sonnet": "claude-sonnet-5",
                                   "haiku": "claude-haiku-4-5", "fable": "claude-fable-5", "any": "claude-sonnet-5"}
    assert dict(codex.models) == {"sol": "gpt-6.2-sol", "astra": "gpt-6.2-astra", "luna": "gpt-6-luna",
                                  "any": "gpt-6.2-sol"}
    assert list(codex.efforts) == ["low", "medium", "high", "xhigh", "max", "ultra"]
    assert list(claude.efforts) == list(demo.efforts) == ["low", "medium", "high", "xhigh", "max"]
    assert dict(claude.efforts)["max"] == ("--effort", "max")
    assert dict(codex.efforts)["ultra"] == ("-c", "model_reasoning_effort=ultra")
    assert claude.default_effort is codex.default_effort is None  # the CLI's own default applies
    assert not (claude.prompt_effort_hint or codex.prompt_effort_hint or demo.prompt_effort_hint)
    assert (claude.stream, codex.stream, demo.stream) == ("claude", "codex", "claude")
    assert set(claude.permissions) == {"read-only", "edit", "ask", "trusted"}
    assert set(codex.permissions) == {"read-only", "edit", "trusted"}  # codex exec cannot ask (issue 13)
    assert claude.max_api_retries == 2 and dict(claude.env_set)["CLAUDE_CODE_MAX_RETRIES"] == "2"
    assert claude.prices["claude-sonnet-*"].output == 15 and codex.prices["gpt-6.2-sol"].cache_read == 0.1
    assert s.lane("x").permissions == "read-only" and s.lane("x").on_denial == "flag"
    assert s.drain_give_up_seconds == 900
    assert s.vendor("nope") is None and s.default_vendor is None
    assert s.concurrency.global_max == 4
    assert [s.concurrency.vendor(n) for n in ("claude", "codex", "demo")] == [2, 2, 4]
    assert s.concurrency.lane("review") is None
    lane = s.lane("anything")
    assert lane == LaneSettings() and lane.mode is LaneMode.INTERNAL
    assert (lane.timeout_seconds, lane.lease_seconds, lane.renew_seconds, lane.max_attempts) == (1800, 900, 60, 3)
    assert (lane.backoff_seconds, lane.backoff_max_seconds) == (30, 900)
    assert (s.rate_limit_cooldown_seconds, s.shutdown_grace_seconds, s.kill_grace_seconds) == (300, 30, 5)
    assert (s.log_max_bytes, s.output_line_max_bytes, s.notify_command) == (16 << 20, 8 << 20, None)
    assert load_settings(None, config_dir=None) == s


def test_default_file_next_to_handoff_is_read(tmp_path):
    path = write(tmp_path, "concurrency: {global: 7}\n")
    s = load_settings(None, config_dir=tmp_path)
    assert s.path == path.absolute() and s.concurrency.global_max == 7


def test_explicit_missing_path_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="settings file does not exist: .*other.yaml"):
        load_settings(tmp_path / "other.yaml", config_dir=tmp_path)


def test_empty_file_is_all_defaults(tmp_path):
    assert load_settings(write(tmp_path, "{}\n"), config_dir=None).lane("x") == LaneSettings()


def test_vendor_override_merges_with_builtin(tmp_path):
    path = write(tmp_path, """
vendors:
  claude:
    executable: /opt/claude/bin/claude
    models: {opus: claude-opus-5, haiku: null, fast: claude-haiku-4-5}
    env: {allow: [AWS_*], set: {CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: null, IS_SANDBOX: "1"}}
    permissions: {trusted: null}
    prices: {claude-opus-5: {input: 6, output: 30}}
  local:
    executable: [python3, -m, my_agent]
    args: [--model, "{model}", "{effort}"]
    models: {any: small}
    efforts: {low: [--quick], medium: []}
    default_effort: low
default_vendor: local
""")
    s = load_settings(path, config_dir=None)
    claude = s.vendor("claude")
    assert claude.executable == ("/opt/claude/bin/claude",)
    assert claude.args == load_settings(None, config_dir=None).vendor("claude").args  # kept
    assert dict(claude.models) == {"opus": "claude-opus-5", "sonnet": "claude-sonnet-5", "fable": "claude-fable-5",
                                   "any": "claude-sonnet-5", "fast": "claude-haiku-4-5"}
    assert claude.env_allow == ("ANTHROPIC_API_KEY", "ANTHROPIC_*", "CLAUDE_*", "AWS_*")
    assert dict(claude.env_set) == {"CLAUDE_CODE_MAX_RETRIES": "2", "IS_SANDBOX": "1"}
    assert set(claude.permissions) == {"read-only", "edit", "ask"}  # this claude never runs trusted lanes
    assert claude.prices["claude-opus-5"].input == 6 and "claude-sonnet-*" in claude.prices
    local = s.vendor("local")
    assert local.executable == ("python3", "-m", "my_agent") and local.stream == "claude"
    assert dict(local.efforts) == {"low": ("--quick",), "medium": ()}
    assert local.default_effort == "low" and not local.prompt_effort_hint
    # A new vendor without a permissions table adds no flags for any preset (its own business).
    assert dict(local.permissions) == {"read-only": (), "edit": (), "ask": (), "trusted": ()}
    assert s.default_vendor == "local" and s.concurrency.vendor("local") == 2
    assert s.vendor("codex") == load_settings(None, config_dir=None).vendor("codex")


def test_relative_executable_is_relative_to_the_settings_file(tmp_path):
    path = write(tmp_path, "vendors: {codex: {executable: bin/codex}}\n")
    assert load_settings(path, config_dir=None).vendor("codex").executable == (str(tmp_path / "bin" / "codex"),)


def test_lanes_and_lane_defaults(tmp_path):
    path = write(tmp_path, """
lane_defaults: {timeout_seconds: 600, max_attempts: 5}
lanes:
  review: {mode: external}
  "two words": {max_attempts: 1}
  batch: {mode: hybrid, lease_seconds: 120, renew_seconds: 20.5, backoff_seconds: 0}
concurrency: {lanes: {batch: 1}, vendors: {codex: 1}}
""")
    s = load_settings(path, config_dir=None)
    assert s.lane("review").mode is LaneMode.EXTERNAL and s.lane("review").timeout_seconds == 600
    batch = s.lane("batch")
    assert (batch.mode, batch.lease_seconds, batch.renew_seconds, batch.max_attempts) == ("hybrid", 120, 20.5, 5)
    assert s.lane("two words").max_attempts == 1
    assert s.lane("other") == LaneSettings(timeout_seconds=600, max_attempts=5)
    assert s.lane("other").mode == "internal"
    assert s.concurrency.lane("batch") == 1 and s.concurrency.vendor("codex") == 1
    assert s.concurrency.vendor("claude") == 2


def test_isolation_settings_and_who_gets_a_worktree(tmp_path):
    s = load_settings(write(tmp_path, "worktrees_dir: wt\nlanes:\n  dev: {permissions: edit, setup: [[npm, ci]]}\n"
                                      "  docs: {isolation: worktree}\n  solo: {permissions: edit, isolation: none}\n"),
                      config_dir=None)
    assert s.worktrees_dir == tmp_path / "wt"  # relative to the settings file
    dev, docs, solo, other = s.lane("dev"), s.lane("docs"), s.lane("solo"), s.lane("other")
    assert dev.setup == (("npm", "ci"),) and dev.retry_from == "base" and dev.setup_timeout_seconds == 600
    assert dev.isolated(True) and not dev.isolated(False)  # auto: edit lanes in a repository
    assert not other.isolated(True)  # auto, read-only
    assert docs.isolated(True) and docs.isolated(False)  # asked for: the supervisor says why it cannot
    assert not solo.isolated(True)
    assert dev.may_isolate() and docs.may_isolate() and not solo.may_isolate() and not other.may_isolate()
    assert load_settings(None, config_dir=None).worktrees_dir is None


def test_backoff_is_exponential_and_capped():
    lane = LaneSettings(backoff_seconds=30, backoff_max_seconds=900)
    assert [lane.backoff(n) for n in (0, 1, 2, 3, 5, 6, 10_000)] == [0, 30, 60, 120, 480, 900, 900]


BAD = [
    ("lease_secnds: 5\n", "lease_secnds is not a known setting"),
    ("lanes: {review: {lease_second: 5}}\n", "lanes.review.lease_second is not a known setting"),
    ("lanes: {review: {lease_seconds: -1}}\n", "lanes.review.lease_seconds must be a number > 0"),
    ("lanes: {review: {lease_seconds: '900'}}\n", "lanes.review.lease_seconds must be a number > 0"),
    ("lanes: {review: {timeout_seconds: .nan}}\n", "lanes.review.timeout_seconds must be a number > 0"),
    ("lanes: {review: {timeout_seconds: .inf}}\n", "lanes.review.timeout_seconds must be a number > 0"),
    ("lanes: {review: {timeout_seconds: 0}}\n", "lanes.review.timeout_seconds must be a number > 0"),
    ("lanes: {review: {lease_seconds: 60, renew_seconds: 60}}\n", "lanes.review.renew_seconds must be less than lease_seconds"),
    ("lane_defaults: {renew_seconds: 1000}\n", "lane_defaults.renew_seconds must be less than lease_seconds"),
    ("lanes: {review: {mode: sometimes}}\n", "lanes.review.mode must be one of internal, external, hybrid"),
    ("lanes: {review: {mode: [internal]}}\n", "lanes.review.mode must be one of"),
    ("lanes: {review: {max_attempts: 0}}\n", "lanes.review.max_attempts must be a whole number from 1 to 100"),
    ("lanes: {review: {max_attempts: 2.5}}\n", "lanes.review.max_attempts must be a whole number"),
    ("lanes: {review: {max_attempts: true}}\n", "lanes.review.max_attempts must be a whole number"),
    ("lanes: {review: {backoff_seconds: 60, backoff_max_seconds: 10}}\n", "lanes.review.backoff_max_seconds must be at least"),
    ("lanes: {review: 5}\n", "lanes.review must be a mapping"),
    ("lanes: [review]\n", "lanes must be a mapping"),
    ('lanes: {"bad\\nname": {}}\n', r"lanes has an invalid lane name 'bad\\nname'"),
    ("concurrency: {global: 0}\n", "concurrency.global must be a whole number from 1 to 1024"),
    ("concurrency: {globl: 2}\n", "concurrency.globl is not a known setting"),
    ("concurrency: {vendors: {gemini: 1}}\n", "concurrency.vendors.gemini names an unknown vendor"),
    ("concurrency: {lanes: {review: -1}}\n", "concurrency.lanes.review must be a whole number"),
    ("kill_grace_seconds: -1\n", "kill_grace_seconds must be a number >= 0"),
    ("log_max_bytes: 10\n", "log_max_bytes must be a whole number from 4096"),
    ("notify_command: notify-send\n", "notify_command must be a non-empty list of strings"),
    ("notify_command: [notify-send, {a: 1}]\n", r"notify_command\[1\] must be a non-empty string"),
    ("environment: {allow: [GITHUB_TOKEN, 'A B']}\n", "environment.allow has an invalid variable name or pattern 'A B'"),
    ("environment: {alow: [X]}\n", "environment.alow is not a known setting"),
    ("default_vendor: gemini\n", "default_vendor names an unknown vendor 'gemini'"),
    ("vendors: {claude: {executabel: x}}\n", "vendors.claude.executabel is not a known setting"),
    ("vendors: {claude: {executable: 'claude -p'}}\n", "vendors.claude.executable must be a program name or path without spaces"),
    ("vendors: {claude: {executable: []}}\n", "vendors.claude.executable must be a program name, a path, or a non-empty list"),
    ("vendors: {claude: {args: --verbose}}\n", "vendors.claude.args must be a list of strings"),
    ("vendors: {claude: {args: ['--model', '{modle}']}}\n", r"vendors.claude.args has unknown placeholder \{modle\}"),
    ("vendors: {claude: {models: {opus: [x]}}}\n", "vendors.claude.models.opus must be a non-empty string"),
    ("vendors: {claude: {models: {opus: null, sonnet: null, haiku: null, fable: null, any: null}}}\n", "vendors.claude.models must name at least one"),
    ("vendors: {x: {executable: x, models: {any: m}, args: [-p], efforts: {high: --effort=high}}}\n", r"vendors.x.efforts.high gives a value but vendors.x.args has no \{effort\}"),
    ("vendors: {x: {executable: x, models: {any: m}, args: [-p], efforts: {high: [--think]}}}\n", r"vendors.x.efforts.high is a list of argv items, which needs \{effort\}"),
    ("vendors: {x: {executable: x, models: {any: m}, args: [exec, 'x={effort}'], efforts: {high: [--x]}}}\n", r"vendors.x.efforts.high must be a string: vendors.x.args uses \{effort\} inside"),
    ("vendors: {claude: {args: [-p, '{effort}']}}\n", r"vendors.claude.permissions.read-only gives flags but vendors.claude.args has no \{permissions\}"),
    ("vendors: {claude: {args: [-p, '--mode={permissions}']}}\n", r"vendors.claude.args may hold \{permissions\} only as a whole item"),
    ("vendors: {claude: {args: [-p, '--tools={agent_tools}']}}\n", r"vendors.claude.args may hold \{agent_tools\} only as a whole item"),
    ("vendors: {claude: {permissions: {yolo: [--x]}}}\n", "vendors.claude.permissions.yolo is not a permission preset"),
    ("vendors: {claude: {permissions: {edit: ['--dir={model}']}}}\n", r"vendors.claude.permissions.edit has unknown placeholder \{model\}"),
    ("vendors: {codex: {prices: {gpt-x: {input: 1}}}}\n", "vendors.codex.prices.gpt-x.output is required"),
    ("vendors: {codex: {prices: {gpt-x: {input: 1, output: -2}}}}\n", "vendors.codex.prices.gpt-x.output must be a number from 0"),
    ("vendors: {codex: {prices: {gpt-x: {input: 1, output: 2, cached: 1}}}}\n", "vendors.codex.prices.gpt-x.cached is not a known setting"),
    ("vendors: {codex: {env: {set: {RUST_LOG: '{max_api_retries}'}}}}\n", r"vendors.codex.env.set.RUST_LOG uses \{max_api_retries\} but vendors.codex.max_api_retries is not set"),
    ("vendors: {codex: {env: {set: {'A B': x}}}}\n", "vendors.codex.env.set has an invalid variable name 'A B'"),
    ("vendors: {claude: {max_api_retries: -1}}\n", "vendors.claude.max_api_retries must be a whole number from 0 to 100"),
    ("lanes: {review: {permissions: write}}\n", "lanes.review.permissions must be one of read-only, edit, ask, trusted"),
    ("lanes: {review: {on_denial: ignore}}\n", "lanes.review.on_denial must be one of flag, fail"),
    ("lane_defaults: {permissions: trusted}\n", "lane_defaults.permissions cannot be trusted: set it per lane"),
    ("drain_give_up_seconds: -5\n", "drain_give_up_seconds must be a number >= 0"),
    ("vendors: {codex: {default_effort: huge}}\n", "vendors.codex.default_effort 'huge' is not in vendors.codex.efforts"),
    ("vendors: {codex: {stream: json}}\n", "vendors.codex.stream must be one of claude, codex \\(got 'json'\\)"),
    ("vendors: {codex: {prompt_effort_hint: 'yes'}}\n", "vendors.codex.prompt_effort_hint must be true or false"),
    ("vendors: {codex: {env: {allow: GITHUB_*}}}\n", "vendors.codex.env.allow must be a list of strings"),
    ("vendors: {codex: {env: {deny: [X]}}}\n", "vendors.codex.env.deny is not a known setting"),
    ("vendors: {gemini: {executable: gemini}}\n", "vendors.gemini.models is required for a vendor that is not built in"),
    ("vendors: {any: {executable: x, models: {any: y}}}\n", "vendors.any is reserved"),
    ("vendors: {codex: 1}\n", "vendors.codex must be a mapping"),
    ("lanes: {dev: {isolation: branch}}\n", "lanes.dev.isolation must be one of auto, worktree, none"),
    ("lanes: {dev: {setup: 'npm ci'}}\n", "lanes.dev.setup must be a list of at most 32 commands"),
    ("lanes: {dev: {setup: [npm ci]}}\n", r"lanes.dev.setup\[0\] must be a non-empty list of strings"),
    ("lanes: {dev: {setup: [[]]}}\n", r"lanes.dev.setup\[0\] must be a non-empty list of strings"),
    ("lanes: {dev: {retry_from: last}}\n", "lanes.dev.retry_from must be one of base, previous"),
    ("worktrees_dir: [a]\n", "worktrees_dir must be a non-empty string"),
]


@pytest.mark.parametrize(("text", "message"), BAD, ids=[m.split()[0] for _, m in BAD])
def test_every_validation_error_is_one_line_naming_file_and_key(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_settings(path, config_dir=None)
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith(f"{path}: ")
    import re

    assert re.search(message, text), text
    assert info.value.exit_code == 6


def test_yaml_problems_keep_the_strict_loader_errors(tmp_path):
    path = write(tmp_path, "lanes: {}\nlanes: {}\n")
    with pytest.raises(ConfigError, match=rf"{path}:2: duplicate key 'lanes'"):
        load_settings(None, config_dir=tmp_path)
    write(tmp_path, "- a\n- b\n")
    with pytest.raises(ConfigError, match="must contain a mapping"):
        load_settings(None, config_dir=tmp_path)


ENV = {
    "PATH": "/usr/bin", "HOME": "/home/u", "USER": "u", "LANG": "C.UTF-8", "LC_ALL": "C", "TERM": "xterm",
    "ANTHROPIC_API_KEY": "sk-ant", "ANTHROPIC_BASE_URL": "https://proxy", "CLAUDE_CODE_USE_BEDROCK": "1",
    "OPENAI_API_KEY": "sk-oai", "CODEX_HOME": "/home/u/.codex",
    "AWS_SECRET_ACCESS_KEY": "aws", "AWS_REGION": "eu-west-1", "GITHUB_TOKEN": "ghp", "DATABASE_URL": "postgres://x",
    "SSH_AUTH_SOCK": "/run/user/1000/agent.sock", "DEMO_AGENT_DELAY": "0",
}
SECRETS = {"AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN", "DATABASE_URL", "SSH_AUTH_SOCK"}


def test_environment_allow_list_per_vendor():
    s = load_settings(None, config_dir=None)
    base = {"PATH", "HOME", "USER", "LANG", "LC_ALL"}
    extra = {"LANES_TASK_ID": "t1", "LANES_AGENT_ID": "a1"}
    claude = worker_environment(s, "claude", ENV, extra)
    assert set(claude) == base | {"ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "CLAUDE_CODE_USE_BEDROCK"} | set(extra)
    codex = worker_environment(s, s.vendor("codex"), ENV, extra)
    assert set(codex) == base | {"OPENAI_API_KEY", "CODEX_HOME"} | set(extra)
    assert "ANTHROPIC_API_KEY" not in codex and "OPENAI_API_KEY" not in claude
    assert set(worker_environment(s, "demo", ENV, {})) == base | {"DEMO_AGENT_DELAY"}
    for env in (claude, codex):
        assert not SECRETS & set(env) and "TERM" not in env
    assert claude["LANES_TASK_ID"] == "t1" and claude["PATH"] == "/usr/bin"


def test_environment_allow_and_deny_from_the_file(tmp_path):
    path = write(tmp_path, """
environment: {allow: [GITHUB_TOKEN], deny: [LC_*]}
vendors: {claude: {env: {allow: ['AWS_*']}}}
""")
    s = load_settings(path, config_dir=None)
    assert s.env_allow == (*DEFAULT_ENV_ALLOW, "GITHUB_TOKEN")
    claude = worker_environment(s, "claude", ENV, {})
    codex = worker_environment(s, "codex", ENV, {})
    assert {"GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"} <= set(claude)
    assert "GITHUB_TOKEN" in codex and "AWS_SECRET_ACCESS_KEY" not in codex
    assert "LC_ALL" not in claude and "DATABASE_URL" not in claude
    # Patterns are case-sensitive: an allow for GITHUB_TOKEN does not pass github_token.
    assert "github_token" not in worker_environment(s, "codex", {"github_token": "x"}, {})


def test_unknown_vendor_gets_only_the_global_list():
    s = load_settings(None, config_dir=None)
    assert set(worker_environment(s, "gemini", ENV, {})) == {"PATH", "HOME", "USER", "LANG", "LC_ALL"}


# The defaults spelled out in the file format, as docs/settings.md documents them:
# loading the documented block must change nothing, so the page cannot drift.
SETTINGS_DOC = Path(__file__).resolve().parents[2] / "docs" / "settings.md"


def documented_defaults() -> str:
    text = SETTINGS_DOC.read_text(encoding="utf-8")
    return text.split("```yaml\n", 1)[1].split("```", 1)[0]


def test_spelled_out_defaults_equal_the_builtins(tmp_path):
    from dataclasses import replace

    spelled = load_settings(write(tmp_path, documented_defaults()), config_dir=None)
    assert replace(spelled, path=None) == load_settings(None, config_dir=None)


@pytest.mark.parametrize("text, message", [
    ("vendors: {claude: {executable: [claude, 5]}}\n", r"vendors.claude.executable\[1\] must be a non-empty string \(got a int: quote it\)"),
    ("vendors: {claude: {args: [-p, 7]}}\n", r"vendors.claude.args\[1\] must be a non-empty string \(got a int"),
    ("vendors: {claude: {models: {opus: 4.8}}}\n", r"vendors.claude.models.opus must be a non-empty string \(got a float"),
    ("environment: {deny: [5]}\n", r"environment.deny\[0\] must be a non-empty string \(got a int"),
    ("notify_command: [notify-send, yes]\n", r"notify_command\[1\] must be a non-empty string \(got a bool"),
])
def test_values_that_yaml_made_numbers_or_booleans_are_refused(tmp_path, text, message):
    """Issue 10's fuzz: settings took wrong types in executable, args, models, environment.deny
    and notify_command as text."""
    import re

    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, text), config_dir=None)
    assert re.search(message, str(info.value)), str(info.value)
