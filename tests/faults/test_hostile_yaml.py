"""Fault row 20: hostile YAML task files and configs.

Each is rejected fast (the subprocess timeout is the limit: a hang or a
billion-laughs expansion fails the test), with exit code 6 (config error),
one stderr line naming the file (and the line where YAML knows it), no code
run by a tag, and nothing written to the store.
"""

from __future__ import annotations

import json

import pytest

FAST = 10  # seconds: generous for a loaded 2-core CI box; a bomb takes minutes or forever
MB = 1 << 20

BILLION_LAUGHS = "\n".join(
    ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]" for a, b in zip("abcdefgh", "bcdefghi")]
    + ["lane: *i", "request_from: request.md", "response_to: out.md", ""]
)


def _cases(marker: str) -> dict[str, tuple[str, str, int | None]]:
    """name -> (file text, words the error must contain, line number or None)."""
    return {
        "billion-laughs": (BILLION_LAUGHS, "anchors are not allowed", 1),
        "alias-merge": ("base: &b {lane: a}\ntask:\n  <<: *b\n", "anchors are not allowed", 1),
        "python-apply": (
            f'lane: a\nrequest_from: request.md\nmetadata: !!python/object/apply:os.system ["touch {marker}"]\n',
            "could not determine a constructor", 3,
        ),
        "python-name": ("lane: !!python/name:os.system\n", "could not determine a constructor", 1),
        "python-new": (
            f'lane: a\nprompt: !!python/object/new:subprocess.check_output [["touch", "{marker}"]]\n',
            "could not determine a constructor", 2,
        ),
        "duplicate-key": (
            "lane: a\nrequest_from: request.md\nresponse_to: out.md\nlane: b\n", "duplicate key 'lane'", 4,
        ),
        "duplicate-nested-key": (
            "lane: a\nmetadata:\n  effort: low\n  effort: high\n", "duplicate key 'effort'", 4,
        ),
        "ten-megabytes": ("lane: a\nprompt: " + "x" * (10 * MB) + "\n", "too large", None),
        "wide-flow-list": ("lane: a\nmetadata: {k: [" + "1," * 400_000 + "1]}\n", "too many YAML values", 2),
        "deep-nesting": ("lane: a\nmetadata: " + "[" * 100_000 + "]" * 100_000 + "\n", "nested", 2),
        "huge-integer": ("lane: a\nmetadata: {n: " + "9" * 100_000 + "}\n", "invalid YAML value", None),
        "not-utf8": ("lane: a\nprompt: \udcff\n", "not UTF-8", None),
        "two-documents": ("lane: a\n---\nlane: b\n", "another document", 2),
        "not-a-mapping": ("- lane\n- a\n", "mapping", None),
    }


def _write(path, text: str) -> None:
    path.write_bytes(text.encode("utf-8", "surrogateescape"))


def _check_rejected(done, path, words: str, line: int | None) -> None:
    assert done.returncode == 6, (done.returncode, done.stdout[:300], done.stderr[:300])
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr[:2000]
    message = lines[0]
    assert message.startswith("lanes-tui: ") and len(message) < 600, message
    assert words in message, message
    if line is not None:
        assert f"{path}:{line}:" in message, message
    else:
        assert str(path) in message, message


def _store_is_empty(workspace) -> None:
    tasks = workspace.store_root / "tasks"
    assert not tasks.exists() or list(tasks.iterdir()) == []
    index = workspace.store_root / "indexes" / "correlations"
    assert not index.exists() or list(index.iterdir()) == []


@pytest.mark.parametrize("case", sorted(_cases("x")))
def test_hostile_task_file_is_rejected_fast(workspace, tmp_path, case):
    marker = tmp_path / "pwned"
    text, words, line = _cases(str(marker))[case]
    task_file = workspace.root / "tasks" / f"{case}.yaml"
    task_file.parent.mkdir()
    _write(task_file, text)
    done = workspace.run("submit", "--task", str(task_file), "--lane", "a",
                         "--request-from", "request.md", "--response-to", "out.md", timeout=FAST)
    _check_rejected(done, task_file, words, line)
    assert not marker.exists(), "a YAML tag ran code"
    _store_is_empty(workspace)
    json_mode = workspace.run("--json", "submit", "--task", str(task_file), timeout=FAST)
    assert json_mode.returncode == 6
    assert json.loads(json_mode.stdout)["error"] == "config_error"


@pytest.mark.parametrize("case", sorted(_cases("x")))
def test_hostile_config_is_rejected_fast(workspace, tmp_path, case):
    marker = tmp_path / "pwned"
    text, words, line = _cases(str(marker))[case]
    # A config that would otherwise be valid: the hostile part comes on top of it.
    prefix = 'workspace_id: "ws"\n'
    if case == "not-a-mapping":
        prefix = ""
    elif line is not None:
        line += 1
    _write(workspace.config, prefix + text)
    for args in (("list",), ("submit", "--lane", "a", "--request-from", "request.md", "--response-to", "out.md")):
        done = workspace.run(*args, timeout=FAST)
        _check_rejected(done, workspace.config, words, line)
    assert not marker.exists(), "a YAML tag ran code"
    assert not workspace.store_root.exists(), "a rejected config must not create the store"
