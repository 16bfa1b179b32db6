"""`list` and `status --all` output, byte-identical to agent-lanes', fast at 10,000 tasks.

agent-lanes re-parses every task.json and every events.jsonl under the store
lock and then runs the pure-Python indenting JSON encoder over all of it. The
view of a queued or finished task changes with the clock in one number only
(`last_event_age_seconds`), so we keep those views pre-encoded in
`<store>/.lanes-tui/views` with the age cut out, and splice the current age in
as bytes. Claimed tasks, whose lease fields move with the clock, are read and
encoded fresh every time.

Whether a cached view is still current is decided from stats alone:

* finished tasks whose task.json itself says completed or failed: no verb of
  either tool rewrites their files again (claim, respond, cancel... refuse
  them), and the verbs that accept them (event, requeue) append to their
  events.jsonl, as every verb does. Their signature is task.json and
  events.jsonl (inode, size, mtime each): two stats per finished task, the
  task.json one for hand edits (an editor, a test corrupting the file).
* queued tasks, and tasks answered but not yet rolled forward (response.json
  present, task.json still queued or claimed): a claim, an answer or a crash
  recovery replaces their files, so their signature also has the task folder
  (inode, mtime: files created, replaced or removed in it): three stats.

So a finished task's response.json deleted (or created) by hand, with no
event appended, shows up only with that task's next event; deleting
`<store>/.lanes-tui/views` forces a full rebuild. Everything else a listing
shows is noticed at once.

The cache is two files in `<store>/.lanes-tui/`:

    views       lanes-tui views 3 <header bytes> <blob bytes> <token> <crc32>\\n
                <header: marshal (version 4) of a tuple of columns, see _columns>
    views.blob  <token>\\n
                <the encoded views, ASCII (json escapes the rest), back to back>

The header has one row per cached task, by column: strings joined by
newlines, numbers as native int64 arrays, so loading it makes a few Python
objects per task (JSON or marshal rows would make a dozen: most of the cost
of loading in a fresh process). The crc32 covers the header and its first
line; the random token pairs it with its blob. New views are appended to the
blob (one O_APPEND write) and only the header, a few hundred KB at 10,000
tasks, is replaced; once a third of the blob is dead views, a new blob of the
live ones is written under a new token. A header is ignored when its blob has
another token, is shorter than the header says, or holds a NUL byte (views
never do; a crash soon after unsynced writes can leave zero-filled blocks).
The blob is read in a thread while the main thread stats the tasks.

The cache is advisory: if it is missing, stale, truncated or unreadable, the
output is the same, only slower. It is never fsynced and no lock is taken to
read or write it; both files are only ever replaced by a rename or appended
to, and a view is encoded once, when its task changes.
"""

from __future__ import annotations

import _thread
import contextlib
import marshal
import os
import stat
import sys
import zlib
from array import array
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from operator import le
from typing import Any

from lanes_tui.core import fsio, jsonout
from lanes_tui.core.batched_output import Batches
from lanes_tui.core.clock import parse_ts
from lanes_tui.core.errors import CorruptTask, NotFound, StoreError
from lanes_tui.core.ids import is_valid_task_id
from lanes_tui.core.states import CLAIMED, STATES, TERMINAL_STATES
from lanes_tui.core.views import age_seconds, queue_next_action, task_view
from lanes_tui.storage.files.scan import CACHE_DIR, last_event_of, live_tasks
from lanes_tui.storage.files.store import TaskStore

VIEWS_CACHE = "views"  # the header
VIEWS_BLOB = "views.blob"  # the encoded views
CACHE_MAGIC = b"lanes-tui views 3"
_TOKEN_LEN = 33  # the blob's first line: 32 hex digits naming it, and a newline
MAX_CACHE_BYTES = 1 << 31
_MARSHAL_VERSION = 4
_AGE_KEY = b'"last_event_age_seconds": '
_AGE_SLOT = -987654321987  # placeholder number, cut out of the encoded view
_AGE_MARK = _AGE_KEY + b"%d" % _AGE_SLOT
_ITEM_INDENT = "    "  # views sit at depth 2: {"tasks": [ {...} ]}
_SEP = b",\n" + _ITEM_INDENT.encode()
_BATCH_ITEMS = 250  # views per batch of output: at most 4 pieces each, under IOV_MAX (1024)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_NO_EVENT = -(1 << 63)  # in the header's event column: no age to splice
_INT64 = range(-(1 << 63), 1 << 63)
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC

# Signature kinds (see the module docstring). A row's signature is 8 numbers:
# folder (ino, mtime_ns), task.json and events.jsonl (ino, size, mtime_ns);
# a SETTLED row leaves the first two at 0. FRESH rows are never cached.
FRESH, SETTLED, FULL = 0, 1, 2

Item = int  # a row of Collected.table


class Table:
    """Tasks of a listing by column; a row number is an Item.

    Rows below `cached` are views in the cache blob, the others views encoded
    now, in Collected.fresh; start, split (where the age goes) and end are
    offsets into that bytes object. events[row] is the last event's time in µs
    since the epoch, or None when the view has no age to splice in.
    """

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.states: list[str] = []
        self.lanes: list[str] = []
        self.created: list[str] = []
        self.missing: list[int] = []
        self.expired: list[int] = []
        self.events: list[int | None] = []
        self.starts: list[int] = []
        self.splits: list[int] = []
        self.ends: list[int] = []
        self.kinds = bytearray()
        self.sigs = array("q")
        self.cached = 0

    def add(self, task_id: str, state: str, lane: str, created_at: str, missing: bool, expired: bool,
            event_us: int | None, start: int, split: int, end: int, kind: int, signature: list[int]) -> Item:
        self.ids.append(task_id)
        self.states.append(state)
        self.lanes.append(lane)
        self.created.append(created_at)
        self.missing.append(int(missing))
        self.expired.append(int(expired))
        self.events.append(event_us)
        self.starts.append(start)
        self.splits.append(split)
        self.ends.append(end)
        self.kinds.append(kind)
        self.sigs.extend(signature if kind != FRESH else (0,) * 8)
        return len(self.ids) - 1


@dataclass
class Collected:
    items: list[Item] = field(default_factory=list)  # rows of `table` to list, in order
    corrupt: list[tuple[str, str]] = field(default_factory=list)
    table: Table = field(default_factory=Table)
    now_us: int = 0  # the listing's "now", µs since the epoch
    blob: memoryview = field(default_factory=lambda: memoryview(b""))  # views of the cached rows
    fresh: memoryview = field(default_factory=lambda: memoryview(b""))  # views of the other rows


@dataclass
class _Cache:
    table: Table = field(default_factory=Table)
    index: dict[str, int] = field(default_factory=dict)
    blob: memoryview = field(default_factory=lambda: memoryview(b""))  # valid once reader is done
    token: bytes = b""  # names the blob file the header describes
    columns: tuple[Any, ...] | None = None  # the header as loaded
    reader: _BlobReader | None = None

    def wait(self) -> bool:
        """Whether the blob matched the header (then self.blob holds it)."""
        if self.reader is not None:
            blob = self.reader.result()
            if blob is None:
                return False
            self.blob, self.reader = blob, None
        return True


class _BlobReader:
    """Reads the blob in a thread while the main thread stats the tasks.

    Reading 20 MB into fresh memory is page faults and copying, done without
    the GIL: on a second core it costs the listing nothing.
    """

    def __init__(self, dir_fd: int, token: bytes, length: int) -> None:
        self._args = (dir_fd, token, length)
        self._blob: memoryview | None = None
        self._done = _thread.allocate_lock()
        self._done.acquire()
        try:
            _thread.start_new_thread(self._run, ())
        except RuntimeError:  # no more threads: read it now
            self._run()

    def _run(self) -> None:
        dir_fd, token, length = self._args
        try:
            self._blob = _read_blob(dir_fd, token, length)
        except BaseException:  # noqa: BLE001 - any failure means: no usable blob
            self._blob = None
        finally:
            os.close(dir_fd)
            self._done.release()

    def result(self) -> memoryview | None:
        with self._done:
            return self._blob


def collect(store: TaskStore, *, lane: str | None = None, include_terminal: bool = True) -> Collected:
    if not include_terminal:
        return _collect_live(store, lane)
    cache = _load_cache(store)
    try:
        return _collect_all(store, lane, cache)
    except (TypeError, ValueError, IndexError, KeyError, AttributeError, OverflowError):
        # Only a cache whose crc matches but whose columns are not what we
        # write can get here: it costs time, never the listing.
        if not cache.index:
            raise
        return _collect_all(store, lane, _Cache())


def _collect_all(store: TaskStore, lane: str | None, cache: _Cache) -> Collected:
    now = store.now()
    table = cache.table
    out = Collected(table=table, now_us=(now - _EPOCH) // _MICROSECOND)
    items = out.items
    kept: list[Item] = []  # cached rows carried over as they are
    new_rows: list[Item] = []  # fresh rows to add to the cache
    fragments: list[bytes] = []
    position = 0  # in out.fresh
    index_get = cache.index.get
    kinds, sigs, lanes = table.kinds, table.sigs, table.lanes
    lstat = os.stat
    with fsio.open_dir(store.tasks_dir) as tasks_fd, os.scandir(tasks_fd) as entries:
        for entry in entries:
            name = entry.name
            row = index_get(name)
            signature = None
            if row is not None and entry.is_dir(follow_symlinks=False):
                if lane is not None and lanes[row] != lane:
                    kept.append(row)  # not shown: checked when it is
                    continue
                at = row << 3
                if kinds[row] == SETTLED:
                    try:
                        task_info = lstat(name + "/task.json", dir_fd=tasks_fd, follow_symlinks=False)
                        event_info = lstat(name + "/events.jsonl", dir_fd=tasks_fd, follow_symlinks=False)
                    except OSError:
                        current = False
                    else:
                        current = (
                            event_info.st_mtime_ns == sigs[at + 7] and event_info.st_size == sigs[at + 6]
                            and task_info.st_mtime_ns == sigs[at + 4] and task_info.st_size == sigs[at + 3]
                            and event_info.st_ino == sigs[at + 5] and task_info.st_ino == sigs[at + 2]
                        )
                else:
                    signature = _signature(tasks_fd, name)
                    current = signature == sigs[at:at + 8].tolist()
                if current:
                    kept.append(row)
                    items.append(row)
                    continue
            elif row is None and not is_valid_task_id(name):
                continue
            if signature is None:
                signature = _signature(tasks_fd, name)  # before reading: a later change shows next time
                if signature is None:
                    continue  # removed (archived) while we looked
            try:
                built = _build(store, name, signature, now)
            except NotFound:
                continue
            except CorruptTask as exc:
                out.corrupt.append((name, str(exc)))
                continue
            state, task_lane, created_at, missing, expired, event_us, split, text, kind, signature = built
            row = table.add(name, state, task_lane, created_at, missing, expired, event_us,
                            position, position + split, position + len(text), kind, signature)
            position += len(text)
            fragments.append(text)
            if kind != FRESH:
                new_rows.append(row)
            if lane is None or task_lane == lane:
                items.append(row)
    if not cache.wait():  # the blob does not match its header: no cached view is usable
        return _collect_all(store, lane, _Cache())
    out.blob = cache.blob
    out.fresh = memoryview(b"".join(fragments))
    if new_rows or len(kept) != table.cached:
        _save_cache(store, cache, out, kept, new_rows)
    items.sort(key=table.created.__getitem__)  # stable: ties keep directory order, as agent-lanes'
    return out


def _collect_live(store: TaskStore, lane: str | None) -> Collected:
    """--active-only: finished ids are skipped unopened (scan.live_tasks)."""
    now = store.now()
    listing = live_tasks(store, lane=lane)
    out = Collected(corrupt=list(listing.corrupt))
    fragments = []
    position = 0
    for task in listing.tasks:
        view = task_view(
            task, response_exists=store.response_exists(task["id"]), last_event=last_event_of(store, task["id"]), now=now
        )
        text = _encode_view(view)
        end = position + len(text)
        out.items.append(out.table.add(task["id"], task["state"], task["lane"], task["created_at"],
                                       view["missing_response"], view["lease_expired"], None, position, end, end,
                                       FRESH, []))
        fragments.append(text)
        position = end
    out.fresh = memoryview(b"".join(fragments))
    return out


def render_list_batches(collected: Collected) -> Batches:
    """`list --json` exactly as agent-lanes prints it (without the final newline), UTF-8."""
    head: dict[str, Any] = {"status": "ok", "count": len(collected.items)}
    _add_corrupt(head, collected)
    return _splice(head, collected)


def render_status_all_batches(collected: Collected) -> Batches:
    """`status --all --json` exactly as agent-lanes prints it (without the final newline), UTF-8."""
    counts = summary_of(collected)
    head: dict[str, Any] = {
        "status": "ok",
        "count": len(collected.items),
        "summary": counts,
        "next_action": queue_next_action(counts),
    }
    _add_corrupt(head, collected)
    return _splice(head, collected)


def summary_of(collected: Collected) -> dict[str, int]:
    table, items = collected.table, collected.items
    states = list(map(table.states.__getitem__, items))
    counts = {state: states.count(state) for state in STATES}
    counts["stale_claims"] = sum(map(table.expired.__getitem__, items))
    counts["missing_response"] = sum(map(table.missing.__getitem__, items))
    return counts


def _add_corrupt(head: dict[str, Any], collected: Collected) -> None:
    if collected.corrupt:
        head["corrupt"] = [{"task_id": tid, "reason": reason} for tid, reason in collected.corrupt]


def _splice(head: dict[str, Any], collected: Collected) -> Batches:
    """jsonout.dumps({**head, "tasks": views}) without re-encoding cached views.

    "tasks" sorts after every other key we use, so the array is the text's tail.
    The age of a view is int((now - last event).total_seconds()); both are whole
    microseconds and total_seconds() divides them by 10**6 just as we do.
    """
    assert all(key < "tasks" for key in head)
    items = collected.items
    if not items:
        yield [jsonout.dumps({**head, "tasks": []}).encode("utf-8")]
        return
    text = jsonout.dumps(head)
    pieces: list[bytes | memoryview] = [(text[:-2] + ',\n  "tasks": [\n' + _ITEM_INDENT).encode("utf-8")]
    append = pieces.append
    table = collected.table
    starts, splits, ends, events, cached = table.starts, table.splits, table.ends, table.events, table.cached
    blob, fresh = collected.blob, collected.fresh
    now_us = collected.now_us
    sep = _SEP
    for low in range(0, len(items), _BATCH_ITEMS):
        for row in items[low:low + _BATCH_ITEMS]:
            source = blob if row < cached else fresh
            event_us = events[row]
            if event_us is None:
                append(source[starts[row]:ends[row]])
            else:
                split = splits[row]
                append(source[starts[row]:split])
                append(b"%d" % int((now_us - event_us) / 1_000_000))
                append(source[split:ends[row]])
            append(sep)
        if low + _BATCH_ITEMS >= len(items):
            pieces[-1] = b"\n  ]\n}"
        yield pieces
        pieces = []
        append = pieces.append


def _signature(tasks_fd: int, task_id: str) -> list[int] | None:
    """Stats that change whenever anything a view shows can change.

    The folder's mtime covers files created, replaced or removed in it (atomic
    writes, response.json appearing or vanishing); task.json's own stat covers
    editors and tools that rewrite it in place; events.jsonl grows on appends.
    Stats are relative to the tasks/ descriptor: no path building per task.
    """
    try:
        info = os.stat(task_id, dir_fd=tasks_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    signature = [info.st_ino, info.st_mtime_ns]
    for name in (f"{task_id}/task.json", f"{task_id}/events.jsonl"):
        try:
            item = os.stat(name, dir_fd=tasks_fd, follow_symlinks=False)
            signature += [item.st_ino, item.st_size, item.st_mtime_ns]
        except OSError:
            signature += [-1, -1, -1]
    return signature


def _build(store: TaskStore, task_id: str, signature: list[int], now: Any) -> tuple[Any, ...]:
    """Read and encode one task.

    Returns (state, lane, created_at, missing_response, lease_expired, event_us,
    split, encoded view, kind, signature to cache).
    """
    task = store.read_task(task_id)
    settled = task["state"] in TERMINAL_STATES  # as written, not only after roll-forward
    if not settled:
        task = store.effective_task(task_id)
    last_event = last_event_of(store, task_id)
    view = task_view(task, response_exists=store.response_exists(task_id), last_event=last_event, now=now)
    state, lane, created_at, missing = task["state"], task["lane"], task["created_at"], view["missing_response"]
    if state == CLAIMED:  # lease fields change with the clock: always fresh
        text = _encode_view(view)
        return state, lane, created_at, missing, view["lease_expired"], None, len(text), text, FRESH, signature
    event_us = None
    if last_event is not None and view["last_event_age_seconds"] is not None:
        view["last_event_age_seconds"] = _AGE_SLOT
        event_us = (parse_ts(str(last_event.get("created_at"))) - _EPOCH) // _MICROSECOND  # type: ignore[operator]
    text = _encode_view(view)
    split = len(text)
    if event_us is not None:
        at = text.find(_AGE_MARK)
        if at < 0 or text.find(_AGE_MARK, at + 1) >= 0:  # the placeholder is in the data too
            view["last_event_age_seconds"] = age_seconds(last_event.get("created_at"), now)  # type: ignore[union-attr]
            text = _encode_view(view)
            return state, lane, created_at, missing, False, None, len(text), text, FRESH, signature
        split = at + len(_AGE_KEY)
        text = text[:split] + text[at + len(_AGE_MARK):]
    kind = FULL
    if settled and signature[4] != -1 and signature[7] != -1:
        kind, signature = SETTLED, [0, 0, *signature[2:]]  # see the module docstring
    if "\n" in created_at or not all(value in _INT64 for value in signature):
        kind = FRESH  # cannot go into the header's columns
    return state, lane, created_at, missing, False, event_us, split, text, kind, signature


def _encode_view(view: dict[str, Any]) -> bytes:
    out: list[str] = []
    jsonout.encode_into(view, _ITEM_INDENT, out)
    return "".join(out).encode("utf-8")


# -- the cache files -----------------------------------------------------------------------


def _load_cache(store: TaskStore) -> _Cache:
    """The header now; the blob is read in the background (_Cache.wait)."""
    try:
        dir_fd = os.open(store.root / CACHE_DIR, _DIR_FLAGS)
    except OSError:
        return _Cache()
    try:
        token, blob_len, columns = _parse_header(_read_exactly(VIEWS_CACHE, dir_fd))
        cache = _cache_from(columns, token, blob_len)
    except (OSError, ValueError, TypeError, IndexError, KeyError, EOFError, OverflowError):
        os.close(dir_fd)
        return _Cache()
    cache.reader = _BlobReader(dir_fd, token, blob_len)  # closes dir_fd
    return cache


def _read_exactly(name: str, dir_fd: int, length: int | None = None) -> bytes:
    """The first `length` bytes of a regular file (all of it for None); ValueError if it is shorter."""
    fd = os.open(name, _READ_FLAGS, dir_fd=dir_fd)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_CACHE_BYTES:
            raise ValueError(f"{name} is not a views cache file")
        wanted = info.st_size if length is None else length
        if info.st_size < wanted:
            raise ValueError(f"{name} is truncated")
        chunks = []
        done = 0
        while done < wanted:
            chunk = os.pread(fd, wanted - done, done)
            if not chunk:
                raise ValueError(f"{name} shrank while read")
            chunks.append(chunk)
            done += len(chunk)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)
    finally:
        os.close(fd)


def _parse_header(data: bytes) -> tuple[bytes, int, tuple[Any, ...]]:
    """(blob token, blob length, columns) of an intact header file of this version, else ValueError."""
    line_end = data.find(b"\n", 0, 200)
    fields = data[:line_end].rsplit(b" ", 4)
    if line_end < 0 or len(fields) != 5 or fields[0] != CACHE_MAGIC:
        raise ValueError("not a views cache of this version")
    header_len, blob_len, token, crc = int(fields[1]), int(fields[2]), fields[3], int(fields[4], 16)
    start = line_end + 1
    if header_len <= 0 or blob_len < 0 or len(token) != _TOKEN_LEN - 1 or start + header_len != len(data):
        raise ValueError("truncated views cache")
    header = data[start:]
    if zlib.crc32(header, zlib.crc32(data[:line_end].rsplit(b" ", 1)[0])) != crc:
        raise ValueError("damaged views cache header")
    columns = marshal.loads(header)
    if type(columns) is not tuple or len(columns) != 13 or columns[0] != sys.byteorder:
        raise ValueError("views cache written by another version or on another architecture")
    return token, blob_len, columns


def _read_blob(dir_fd: int, token: bytes, length: int) -> memoryview:
    data = _read_exactly(VIEWS_BLOB, dir_fd, _TOKEN_LEN + length)  # appends past `length` are not ours
    if data[:_TOKEN_LEN] != token + b"\n":
        raise ValueError("views blob belongs to another header")
    if data.find(b"\0", _TOKEN_LEN) >= 0:
        # Views never hold a NUL byte (json escapes it); a crash soon after an
        # unsynced write can leave zero-filled blocks, which this catches.
        raise ValueError("damaged views blob")
    return memoryview(data)[_TOKEN_LEN:]


def _cache_from(columns: tuple[Any, ...], token: bytes, blob_len: int) -> _Cache:
    (_, ids, created, lane_names, lane_rows, state_rows, missing, kinds,
     events, starts, splits, ends, sigs) = columns
    rows = len(kinds)
    table = Table()
    table.ids = ids.split("\n") if rows else []
    table.created = created.split("\n") if rows else []
    table.lanes = list(map(lane_names.__getitem__, _int64s(lane_rows)))
    table.states = list(map(STATES.__getitem__, state_rows))
    table.missing = list(missing)
    table.expired = [0] * rows
    table.events = [None if value == _NO_EVENT else value for value in _int64s(events)]
    table.starts, table.splits, table.ends = _int64s(starts), _int64s(splits), _int64s(ends)
    table.kinds = bytearray(kinds)
    table.sigs = array("q", sigs)
    table.cached = rows
    lengths = {len(column) for column in (table.ids, table.created, table.lanes, table.states, table.missing,
                                          table.events, table.starts, table.splits, table.ends)}
    if lengths != {rows} or len(table.sigs) != 8 * rows:
        raise ValueError("views cache columns differ in length")
    if rows and (
        kinds.translate(None, bytes((SETTLED, FULL)))
        or min(table.starts) < 0
        or max(table.ends) > blob_len
        or not all(map(le, table.starts, table.splits))
        or not all(map(le, table.splits, table.ends))
    ):
        raise ValueError("views cache header does not match its blob")
    index = dict(zip(table.ids, range(rows)))
    if len(index) != rows:
        raise ValueError("views cache lists a task twice")
    return _Cache(table, index, token=token, columns=columns)


def _int64s(raw: bytes) -> list[int]:
    return array("q", raw).tolist()


def _save_cache(store: TaskStore, cache: _Cache, out: Collected, kept: list[Item], new_rows: list[Item]) -> None:
    """Best effort and not fsynced: losing the cache only costs time.

    New views are appended to the blob and the (small) header is replaced.
    Once more than a third of the blob would be views no longer listed, a new
    blob with the live views only is written instead, under a new token.
    """
    table, blob, fresh = out.table, out.blob, out.fresh
    starts, ends = table.starts, table.ends
    live = sum(ends[row] - starts[row] for row in kept)
    added = [fresh[starts[row]:ends[row]] for row in new_rows]
    size = sum(map(len, added))
    with contextlib.suppress(OSError, StoreError, ValueError, TypeError, OverflowError):
        with fsio.open_dir(store.root) as root_fd:
            fsio.make_dir(CACHE_DIR, dir_fd=root_fd, exist_ok=True)
            with fsio.open_dir(CACHE_DIR, dir_fd=root_fd) as fd:
                position = None
                if cache.token and (len(blob) - live) * 2 <= live + size:
                    position = _append_blob(fd, cache.token, added, size)
                if position is not None:
                    token, blob_len = cache.token, position + size
                    columns = None
                    if len(kept) == table.cached:  # nothing dropped: the old columns stay as they are
                        columns = _appended_columns(cache.columns, table, new_rows, position)
                    if columns is None:
                        columns = _columns(table, kept, new_rows, position)
                else:  # compact: a new blob of the live views only
                    token = os.urandom((_TOKEN_LEN - 1) // 2).hex().encode()  # as secrets.token_hex
                    rows = kept + new_rows
                    pieces = [(blob if row < table.cached else fresh)[starts[row]:ends[row]] for row in rows]
                    fsio.write_atomic_chunks(VIEWS_BLOB, [token + b"\n", b"".join(pieces)], dir_fd=fd, durable=False)
                    blob_len = sum(map(len, pieces))
                    columns = _columns(table, [], rows, 0)
                header = marshal.dumps(columns, _MARSHAL_VERSION)
                line = b"%s %d %d %s" % (CACHE_MAGIC, len(header), blob_len, token)
                first = b"%s %08x\n" % (line, zlib.crc32(header, zlib.crc32(line)))
                fsio.write_atomic_chunks(VIEWS_CACHE, [first, header], dir_fd=fd, durable=False)


def _append_blob(dir_fd: int, token: bytes, pieces: list[memoryview], size: int) -> int | None:
    """Append the pieces (one write) to the blob if it still carries `token`: where they start, or None."""
    try:
        fd = os.open(VIEWS_BLOB, os.O_RDWR | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, dir_fd=dir_fd)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode) or os.pread(fd, _TOKEN_LEN, 0) != token + b"\n":
            return None  # replaced (compacted) by another process since we read it
        if not size:
            return os.fstat(fd).st_size - _TOKEN_LEN
        if os.write(fd, b"".join(pieces)) != size:  # O_APPEND: one write lands in one piece
            return None
        return os.lseek(fd, 0, os.SEEK_CUR) - size - _TOKEN_LEN  # our own offset, whoever else appends
    finally:
        os.close(fd)


def _columns(table: Table, kept: list[Item], moved: list[Item], position: int) -> tuple[Any, ...]:
    """The header for rows kept + moved: kept rows keep their blob offsets, moved rows
    are laid out one after the other from `position`."""
    rows = kept + moved
    starts, splits, ends = table.starts, table.splits, table.ends
    new_starts = [starts[row] for row in kept]
    new_splits = [splits[row] for row in kept]
    new_ends = [ends[row] for row in kept]
    for row in moved:
        new_starts.append(position)
        new_splits.append(position + splits[row] - starts[row])
        position += ends[row] - starts[row]
        new_ends.append(position)
    lane_names = sorted({table.lanes[row] for row in rows})
    lane_number = {lane: number for number, lane in enumerate(lane_names)}
    sigs = array("q")
    for row in rows:
        sigs += table.sigs[row << 3:(row << 3) + 8]
    return (
        sys.byteorder,
        "\n".join([table.ids[row] for row in rows]),
        "\n".join([table.created[row] for row in rows]),
        lane_names,
        array("q", [lane_number[table.lanes[row]] for row in rows]).tobytes(),
        bytes([STATES.index(table.states[row]) for row in rows]),
        bytes([table.missing[row] for row in rows]),
        bytes([table.kinds[row] for row in rows]),
        array("q", [_NO_EVENT if table.events[row] is None else table.events[row] for row in rows]).tobytes(),
        array("q", new_starts).tobytes(),
        array("q", new_splits).tobytes(),
        array("q", new_ends).tobytes(),
        sigs.tobytes(),
    )


def _appended_columns(
    columns: tuple[Any, ...] | None, table: Table, new_rows: list[Item], position: int
) -> tuple[Any, ...] | None:
    """The loaded header with new_rows (laid out from `position`) added at the end: no row rebuilt."""
    if columns is None or not table.cached:
        return None
    more = _columns(table, [], new_rows, position)
    lane_names = list(columns[3])
    for lane in more[3]:
        if lane not in lane_names:
            lane_names.append(lane)
    renumber = [lane_names.index(lane) for lane in more[3]]
    lane_rows = array("q", [renumber[number] for number in _int64s(more[4])]).tobytes()
    return (
        sys.byteorder,
        columns[1] + "".join("\n" + task_id for task_id in more[1].split("\n")) if new_rows else columns[1],
        columns[2] + "".join("\n" + created for created in more[2].split("\n")) if new_rows else columns[2],
        lane_names,
        columns[4] + lane_rows,
        *(old + new for old, new in zip(columns[5:], more[5:])),
    )
