"""`lanes-tui store copy FROM TO`: move a queue between a file store and PostgreSQL (storage/copying.py)."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    store = sub.add_parser("store", parents=parents, help="move a queue between a store folder and PostgreSQL")
    actions = store.add_subparsers(dest="store_command", metavar="copy", required=True)
    copy = actions.add_parser("copy", parents=parents,
                              help="copy every task (answers, events, attempt logs) from FROM to TO, then check it")
    copy.add_argument("source", metavar="FROM", help="a store folder or a postgresql:// URL")
    copy.add_argument("destination", metavar="TO", help="a store folder (made if missing) or a postgresql:// URL")


def run(args: argparse.Namespace) -> int:
    from lanes_tui.commands.output import emit_json
    from lanes_tui.storage import open_store
    from lanes_tui.storage.copying import copy_queue

    source = open_store(args.source, create=False)
    destination = open_store(args.destination)
    report = copy_queue(source, destination)
    if getattr(args, "json", False):
        emit_json(report.to_json())
        return 0
    print(f"copied {report.tasks} task(s) from {report.source} to {report.destination}: {report.copied} new, "
          f"{report.already_there} already there ({report.answered} answered, {report.archived} archived, "
          f"{report.events} events, {report.attempt_logs} attempt logs)")
    if report.skipped_event_lines:
        print(f"left out {report.skipped_event_lines} torn or foreign event line(s) the source's readers skip too")
    print(f"checked: all {report.tasks} read back the same from both (sha256 {report.sha256})")
    return 0
