"""Running git: argv lists, no shell, no prompts, no pager, one-line errors.

Every call runs `git -C <dir> ...` with a fixed environment on top of the caller's:
no terminal prompts (a credential or passphrase prompt would hang a supervisor), C
locale (messages and porcelain parsed below are git's English ones), no pager, no
optional locks (`git status` must not fight the agent's own git over the index).
Output is bytes; paths in porcelain output are NUL-separated (`-z`), so no path is
ever split or unquoted wrongly.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from lanes_tui.core.errors import LanesError
from lanes_tui.core.sanitize import one_line

GIT_TIMEOUT_SECONDS = 120.0
_ENV = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_ASKPASS": "true",
    "SSH_ASKPASS": "true",
    "GIT_PAGER": "cat",
    "PAGER": "cat",
    "LC_ALL": "C",
    "LANG": "C",
    "GIT_OPTIONAL_LOCKS": "0",
}


class GitError(LanesError):
    """git refused or failed; the message is its first error line."""

    exit_code = 13
    kind = "git_error"


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: bytes
    stderr: bytes

    @property
    def text(self) -> str:
        return self.stdout.decode("utf-8", "replace").strip()


def git_executable() -> str:
    found = shutil.which("git")
    if found is None:
        raise GitError("git is not installed (needed for worktree isolation)")
    return found


def run(directory: Path, *args: str, check: bool = True, input: bytes | None = None,
        env: dict[str, str] | None = None, timeout: float = GIT_TIMEOUT_SECONDS) -> Result:
    """`git -C directory args...`; with `check`, a non-zero exit raises GitError."""
    argv = [git_executable(), "-C", str(directory), *args]
    full_env = {**os.environ, **(env or {}), **_ENV}
    try:
        proc = subprocess.run(argv, input=input, capture_output=True, env=full_env, timeout=timeout,
                              stdin=None if input is not None else subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise GitError(f"git {args[0] if args else ''} took longer than {timeout:.0f} s") from None
    except OSError as exc:
        raise GitError(f"cannot run git: {exc.strerror or exc}") from None
    result = Result(proc.returncode, proc.stdout, proc.stderr)
    if check and proc.returncode != 0:
        raise GitError(f"git {' '.join(args[:2])}: {_first_error(proc.stderr, proc.stdout)}")
    return result


def _first_error(stderr: bytes, stdout: bytes) -> str:
    for stream in (stderr, stdout):
        for line in stream.decode("utf-8", "replace").splitlines():
            line = line.strip()
            if line and not line.startswith("hint:"):
                return one_line(line.removeprefix("fatal: ").removeprefix("error: "), 300)
    return "failed (no message)"
