"""A task's branch as a git bundle: how its work crosses from the host that ran it to the lead's.

On a shared queue the worker's clone and the lead's are different repositories at the same
path on different machines. The worker's host bundles the task's branch (its commits since the
base, the base a prerequisite every clone of the repository has) and the queue carries it; the
lead's host, not finding the branch in its clone, fetches it from the bundle, checked first
(`git bundle verify`: its prerequisites are there) and after (the branch's tip is the head the
answer recorded). Only a branch missing here is fetched: one that exists is never overwritten.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

from lanes_tui.core.errors import InvalidInput
from lanes_tui.gitwork.git import GitError, run
from lanes_tui.gitwork.refs import INCOMING

MAX_BUNDLE_BYTES = 64 * 1024 * 1024  # bigger branches stay on the host that ran them


class BundleTooLarge(InvalidInput):
    """The branch's bundle is over MAX_BUNDLE_BYTES."""


def create(repo: Path, branch: str, base: str) -> bytes:
    """The bundle of `refs/heads/<branch>` without what `base` already has."""
    with tempfile.TemporaryDirectory(prefix="lanes-tui-bundle-") as scratch:
        target = Path(scratch) / "task.bundle"
        run(repo, "bundle", "create", "--quiet", str(target), f"refs/heads/{branch}", f"^{base}")
        size = target.stat().st_size
        if size > MAX_BUNDLE_BYTES:
            raise BundleTooLarge(f"the branch's bundle is {size} bytes, over {MAX_BUNDLE_BYTES}")
        return target.read_bytes()


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch(repo: Path, data: bytes, branch: str, head: str) -> None:
    """Create `refs/heads/<branch>` in `repo` from the bundle, at `head` or not at all."""
    with tempfile.TemporaryDirectory(prefix="lanes-tui-bundle-") as scratch:
        source = Path(scratch) / "task.bundle"
        source.write_bytes(data)
        checked = run(repo, "bundle", "verify", "--quiet", str(source), check=False)
        if checked.returncode != 0:
            raise GitError(f"the task's bundle cannot be applied to this clone: {_first_line(checked.stderr)} "
                           "(fetch the task's base branch first)")
        # Into a ref of our own first: the branch appears only once its tip is the recorded head.
        staging = f"{INCOMING}/{branch}"
        run(repo, "fetch", "--quiet", "--no-tags", "--no-write-fetch-head", str(source),
            f"+refs/heads/{branch}:{staging}")
        try:
            fetched = run(repo, "rev-parse", "--verify", "--quiet", f"{staging}^{{commit}}").text
            if fetched != head:
                raise GitError(f"the task's bundle holds {fetched[:12]}, not the recorded head {head[:12]}")
            # Create only (the all-zero old value): a branch made here meanwhile is left alone.
            run(repo, "update-ref", f"refs/heads/{branch}", head, "0" * len(head))
        finally:
            run(repo, "update-ref", "-d", staging, check=False)


def _first_line(stderr: bytes) -> str:
    for line in stderr.decode("utf-8", "replace").splitlines():
        line = line.strip().removeprefix("error: ").removeprefix("fatal: ")
        if line:
            return line[:300]
    return "git bundle verify failed"
