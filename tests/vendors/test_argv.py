import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lanes_tui.core.errors import InvalidInput
from lanes_tui.settings import load_settings
from lanes_tui.vendors.argv import (
    build_command,
    executable_available,
    executable_path,
    resolve_vendor,
)

SETTINGS = load_settings(None, config_dir=None)
CLAUDE, CODEX, DEMO = (SETTINGS.vendor(n) for n in ("claude", "codex", "demo"))
CLAUDE_BASE = ["claude", "-p", "--output-format", "stream-json", "--verbose", "--include-partial-messages", "--model"]
CODEX_MODELS = {"sol": "gpt-6.2-sol", "astra": "gpt-6.2-astra", "luna": "gpt-6-luna", "any": "gpt-6.2-sol",
                None: "gpt-6.2-sol"}
CLAUDE_MODELS = {"opus": "claude-opus-4-8", "sonnet": "claude-sonnet-5", "haiku": "claude-haiku-4-5",
                 "fable": "claude-fable-5", "any": "claude-sonnet-5", None: "claude-sonnet-5", "": "claude-sonnet-5"}
CLAUDE_READ_ONLY = ("--permission-mode", "dontAsk", "--disallowedTools", "Write,Edit,MultiEdit,NotebookEdit")
HOSTILE = ["--dangerously-skip-permissions", "$(touch x)", "; rm -rf ~", "`touch x`", "opus --verbose",
           "opus\n--dangerously-skip-permissions", "-", "{model}", "x" * 10_000, "medium; id", " any\x00"]


@pytest.mark.parametrize("model_class", list(CLAUDE_MODELS))
@pytest.mark.parametrize("effort", ["low", "medium", "high", "xhigh", "max", None])
def test_claude_argv_exact(model_class, effort):
    cmd = build_command(CLAUDE, model_class, effort)
    model = CLAUDE_MODELS[model_class]
    # Haiku takes no effort (the CLI would drop it silently): none is passed, none recorded.
    applied = None if model.startswith("claude-haiku") else effort
    assert cmd.argv == (*CLAUDE_BASE, model, *(("--effort", applied) if applied else ()), *CLAUDE_READ_ONLY)
    assert (cmd.vendor, cmd.model, cmd.effort, cmd.permissions) == ("claude", model, applied, "read-only")
    assert cmd.prompt_prefix == "" and cmd.stream == "claude"
    assert dict(cmd.env) == {"CLAUDE_CODE_MAX_RETRIES": "2", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"}


@pytest.mark.parametrize("model_class", list(CODEX_MODELS))
@pytest.mark.parametrize("effort", ["low", "medium", "high", "xhigh", "max", "ultra", None])
def test_codex_argv_exact(model_class, effort, tmp_path):
    cmd = build_command(CODEX, model_class, effort, workdir=tmp_path)
    assert cmd.argv == ("codex", "exec", "--json", "-m", CODEX_MODELS[model_class],
                        *(("-c", f"model_reasoning_effort={effort}") if effort else ()),
                        "-s", "read-only", "-c", "approval_policy=never", "-C", str(tmp_path),
                        "--skip-git-repo-check", "-")
    assert cmd.prompt_prefix == "" and cmd.effort == effort and cmd.stream == "codex"
    assert dict(cmd.env) == {"RUST_LOG": "error,codex_sandboxing=warn"}


@pytest.mark.parametrize("preset, claude, codex", [
    ("read-only", CLAUDE_READ_ONLY, ("-s", "read-only", "-c", "approval_policy=never", "-C", "{w}")),
    ("edit", ("--permission-mode", "acceptEdits", "--settings",
              '{"sandbox":{"enabled":true,"autoAllowBashIfSandboxed":true,"allowUnsandboxedCommands":false}}'),
     ("-s", "workspace-write", "-c", "approval_policy=never", "-c", "sandbox_workspace_write.exclude_slash_tmp=true",
      "-C", "{w}")),
    ("trusted", ("--permission-mode", "bypassPermissions"),
     ("--dangerously-bypass-approvals-and-sandbox", "-C", "{w}")),
])
def test_every_preset_passes_an_explicit_mode(preset, claude, codex, tmp_path):
    """Never the operator's personal default: each preset names the CLI's mode itself."""
    work = tmp_path / "tree"
    cmd = build_command(CLAUDE, "opus", None, permissions=preset, workdir=work)
    assert cmd.argv == (*CLAUDE_BASE, "claude-opus-4-8", *claude) and cmd.permissions == preset
    cmd = build_command(CODEX, None, None, permissions=preset, workdir=work)
    assert cmd.argv[5:-2] == tuple(item.replace("{w}", str(work)) for item in codex)


def test_workdir_is_absolute_so_it_never_reads_as_a_flag(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cmd = build_command(CODEX, None, None, workdir="-rf")
    assert cmd.argv[cmd.argv.index("-C") + 1] == str(tmp_path / "-rf")


def test_unknown_preset_is_refused():
    with pytest.raises(InvalidInput, match="vendor claude has no 'yolo' permission preset"):
        build_command(CLAUDE, None, None, permissions="yolo")


@pytest.mark.parametrize("model_class", ["opus", "sonnet", "haiku", "any", None])
@pytest.mark.parametrize("effort", ["low", "medium", "high", "xhigh", None])
def test_demo_argv_exact(model_class, effort):
    cmd = build_command(DEMO, model_class, effort)
    assert cmd.argv == (sys.executable, "-m", "lanes_tui.vendors.demo_agent", *CLAUDE_BASE[1:], "demo")
    assert cmd.prompt_prefix == ""  # the demo's answer is derived from the prompt: keep it clean


def test_whole_item_effort_placeholder_splices_lists(tmp_path):
    path = tmp_path / "lanes-tui.yaml"
    path.write_text("""
vendors:
  claude:
    args: [-p, "{effort}", --model, "{model}", "--tag={model}"]
    efforts: {low: [], high: [--max-turns, "40"], xhigh: [--think-hard], medium: null, max: null}
    permissions: {read-only: [], edit: [], ask: [], trusted: []}
    prompt_effort_hint: true
""", encoding="utf-8")
    claude = load_settings(path, config_dir=None).vendor("claude")
    assert build_command(claude, "opus", "low").argv == ("claude", "-p", "--model", "claude-opus-4-8", "--tag=claude-opus-4-8")
    assert build_command(claude, None, "high").argv[:4] == ("claude", "-p", "--max-turns", "40")
    assert build_command(claude, None, "xhigh").argv[:3] == ("claude", "-p", "--think-hard")
    assert build_command(claude, None, "high").prompt_prefix == "[Reasoning effort: high]\n\n"
    assert build_command(claude, None, None).prompt_prefix == ""  # nothing passed, nothing claimed


@pytest.mark.parametrize("vendor", [CLAUDE, CODEX, DEMO], ids=lambda v: v.name)
@pytest.mark.parametrize("value", HOSTILE)
def test_injection_through_metadata_is_rejected(vendor, value):
    with pytest.raises(InvalidInput, match=f"unknown model_class .* for vendor {vendor.name}; known: "):
        build_command(vendor, value, "high")
    with pytest.raises(InvalidInput, match=f"unknown effort .* for vendor {vendor.name}; known: "):
        build_command(vendor, "any", value)


@pytest.mark.parametrize("value", [["opus"], {"a": 1}, 5, True])
def test_non_string_metadata_is_rejected(value):
    with pytest.raises(InvalidInput, match="model_class must be a string"):
        build_command(CLAUDE, value, None)
    with pytest.raises(InvalidInput, match="effort must be a string"):
        build_command(CODEX, None, value)


def test_unknown_model_message_is_clear_and_one_line():
    with pytest.raises(InvalidInput) as info:
        build_command(CODEX, "gpt-9", None)
    assert str(info.value) == "unknown model_class 'gpt-9' for vendor codex; known: any, astra, luna, sol"
    assert info.value.exit_code == 5
    with pytest.raises(InvalidInput) as info:
        build_command(CLAUDE, "opus\n--yolo", None)
    assert "\n" not in str(info.value) and "'opus\\n--yolo'" in str(info.value)


def make_bin(tmp_path: Path, *names: str) -> Path:
    folder = tmp_path / "bin"
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        # Records its argv and stdin, like a stand-in claude/codex would.
        script = folder / name
        script.write_text(
            f"#!{sys.executable}\nimport json, sys\n"
            "data = sys.stdin.buffer.read()\n"
            "json.dump({'argv': sys.argv[1:], 'stdin_len': len(data), 'stdin_head': data[:200].decode()}, sys.stdout)\n",
            encoding="utf-8",
        )
        script.chmod(0o755)
    return folder


def test_hostile_prompt_reaches_stdin_only_and_runs_no_shell(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(make_bin(tmp_path, "claude")))
    cmd = build_command(CLAUDE, "opus", "high")
    prompt = "$(touch pwned) `touch pwned` ; rm -rf ~ --dangerously-skip-permissions\n" + "y" * (1 << 20)
    done = subprocess.run(cmd.argv, input=(cmd.prompt_prefix + prompt).encode(), capture_output=True,
                          cwd=tmp_path, timeout=60, check=True)
    seen = json.loads(done.stdout)
    assert seen["argv"] == list(cmd.argv[1:]) == [*CLAUDE_BASE[1:], "claude-opus-4-8", "--effort", "high",
                                                  *CLAUDE_READ_ONLY]
    assert seen["stdin_len"] == len((cmd.prompt_prefix + prompt).encode())
    assert seen["stdin_head"].startswith("$(touch pwned)")
    assert not (tmp_path / "pwned").exists()


def test_executable_available_follows_path_at_call_time(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert not executable_available(CLAUDE) and executable_path(CODEX) is None
    folder = make_bin(tmp_path, "codex")
    monkeypatch.setenv("PATH", str(folder))
    assert executable_available(CODEX) and executable_path(CODEX) == str(folder / "codex")
    assert executable_available(DEMO)  # absolute path to this interpreter
    (folder / "claude").write_text("not executable", encoding="utf-8")
    assert not executable_available(CLAUDE)


def test_absolute_executable_must_exist_and_be_executable(tmp_path):
    path = tmp_path / "lanes-tui.yaml"
    path.write_text(f"vendors: {{claude: {{executable: {tmp_path}/agent}}}}\n", encoding="utf-8")
    claude = load_settings(path, config_dir=None).vendor("claude")
    assert not executable_available(claude)
    (tmp_path / "agent").write_text("#!/bin/sh\n", encoding="utf-8")
    assert not executable_available(claude)
    os.chmod(tmp_path / "agent", 0o755)
    assert executable_available(claude)


def names(choice):
    return choice.vendor.name if choice.vendor else None


def test_resolve_any_prefers_claude_then_codex_and_never_demo(tmp_path, monkeypatch):
    vendors = SETTINGS.vendors
    monkeypatch.setenv("PATH", str(make_bin(tmp_path, "claude", "codex")))
    for required in (None, "", "any", " any "):
        assert names(resolve_vendor(vendors, None, required)) == "claude"
    monkeypatch.setenv("PATH", str(make_bin(tmp_path / "c", "codex")))
    choice = resolve_vendor(vendors, None, "any")
    assert names(choice) == "codex" and choice.reason == ""
    # Only demo is runnable: `any` still waits, with every missing vendor named.
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    choice = resolve_vendor(vendors, None, None)
    assert choice.vendor is None and not choice.invalid
    assert choice.reason == ("no vendor available: vendor claude: executable 'claude' not found on PATH; "
                             "vendor codex: executable 'codex' not found on PATH")


def test_resolve_named_vendor_waits_while_its_executable_is_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(make_bin(tmp_path, "codex")))
    choice = resolve_vendor(SETTINGS.vendors, None, "claude")
    assert choice.vendor is None and not choice.invalid
    assert choice.reason == "vendor claude: executable 'claude' not found on PATH"
    assert names(resolve_vendor(SETTINGS.vendors, None, "codex")) == "codex"
    assert names(resolve_vendor(SETTINGS.vendors, None, "demo")) == "demo"


def test_resolve_any_filters_by_model_class_and_effort():
    vendors, both = SETTINGS.vendors, {"claude", "codex"}
    assert names(resolve_vendor(vendors, both, "any", model_class="astra")) == "codex"
    assert names(resolve_vendor(vendors, both, "any", model_class="opus", effort="xhigh")) == "claude"
    assert names(resolve_vendor(vendors, both, "any", effort="ultra")) == "codex"  # claude has no ultra
    # The vendor that knows the model is missing: wait for it, do not run the wrong one.
    choice = resolve_vendor(vendors, {"codex"}, "any", model_class="opus")
    assert choice.vendor is None and not choice.invalid and "vendor claude: executable 'claude'" in choice.reason
    # Nobody knows it: the task can never run here.
    choice = resolve_vendor(vendors, both, "any", model_class="$(touch x)")
    assert choice.vendor is None and choice.invalid
    assert "unknown model_class '$(touch x)' for vendor claude" in choice.reason
    assert "unknown model_class '$(touch x)' for vendor codex" in choice.reason


def test_resolve_named_vendor_with_unknown_model_is_invalid_even_if_missing():
    choice = resolve_vendor(SETTINGS.vendors, set(), "codex", model_class="opus")
    assert choice.invalid and choice.reason.startswith("unknown model_class 'opus' for vendor codex")


def test_resolve_unknown_vendor_waits_and_bad_type_is_invalid():
    choice = resolve_vendor(SETTINGS.vendors, {"claude"}, "gemini")
    assert choice.vendor is None and not choice.invalid
    assert choice.reason == "vendor 'gemini' is not configured here; known: claude, codex, demo"
    choice = resolve_vendor(SETTINGS.vendors, {"claude"}, ["claude"])
    assert choice.invalid and choice.reason == "required_vendor must be a string, got list"


def test_default_vendor_demo_and_disabled_vendors(tmp_path):
    path = tmp_path / "lanes-tui.yaml"
    path.write_text("default_vendor: demo\nvendors: {codex: {enabled: false}}\n", encoding="utf-8")
    s = load_settings(path, config_dir=None)
    everything = {"claude", "codex", "demo"}
    assert names(resolve_vendor(s.vendors, everything, "any", default_vendor=s.default_vendor)) == "demo"
    assert names(resolve_vendor(s.vendors, everything, "any")) == "claude"
    assert names(resolve_vendor(s.vendors, {"codex", "demo"}, "any")) is None  # codex disabled, demo not default
    choice = resolve_vendor(s.vendors, everything, "codex")
    assert choice.vendor is None and not choice.invalid and choice.reason == "vendor codex is disabled in the settings"
    assert names(resolve_vendor(s.vendors, lambda v: v.name == "claude", None)) == "claude"


def test_other_vendors_come_after_claude_and_codex_alphabetically(tmp_path):
    path = tmp_path / "lanes-tui.yaml"
    path.write_text("""
vendors:
  zeta: {executable: zeta, models: {any: z}}
  alpha: {executable: alpha, models: {any: a}}
""", encoding="utf-8")
    vendors = load_settings(path, config_dir=None).vendors
    assert names(resolve_vendor(vendors, {"zeta", "alpha", "codex"}, None)) == "codex"
    assert names(resolve_vendor(vendors, {"zeta", "alpha"}, None)) == "alpha"
    assert names(resolve_vendor(vendors, {"zeta"}, None)) == "zeta"
    assert build_command(vendors["alpha"], None, None).argv == ("alpha",)
