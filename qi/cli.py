"""The ``qi`` command line.

The interface is fixed (checks outside the test suite drive it)::

    qi [--db URL] teams FILE            register teams (collaborative, ics, trust, team)
    qi [--db URL] measures FILE         load the measure catalogue
    qi [--db URL] import FILE [--dry-run]
    qi [--db URL] export --output FILE [--as-of 2026-11-25T10:15:30]
    qi [--db URL] rollback ID
    qi [--db URL] sample                load the bundled sample collaborative
    qi [--db URL] pdsa import FILE      load change ideas and PDSA cycles
    qi [--db URL] uploads               list the upload history
    qi [--db URL] groups FILE           add or change group aliases (alias, code, label,
                                        broad_group): the ethnic-group mapping
    qi [--db URL] report --output pack.pdf [--teams T ...] [--measures M ...]
                  [--period 2026-10] [--as-of INSTANT] [--commentary FILE] [--rules mdc]
                  [--phases none|changes] [--groups G ...] [--reference White] [--title T]
                                        the board pack as a PDF (see qi.report)

The store is ``--db`` if given, else ``QI_DATABASE_URL``, else an SQLite file in the
user's data folder; an empty database gets the schema first. ``import`` prints
``upload <ID>`` and exits 0, or prints each problem as ``FILE:ROW:COLUMN: message``
(rows numbered as a spreadsheet shows them, header = row 1; file-level problems with
row and column empty), stores nothing and exits 1.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Sequence

from qi.store import Problem, Store, StoreError, UploadRejected


def _user() -> str:
    try:
        return os.environ.get("QI_USER") or getpass.getuser()
    except Exception:  # no login name (some containers)
        return "unknown"


def _print_problems(problems: Sequence[Problem]) -> None:
    for p in problems:
        row = "" if p.row is None else str(p.row)
        print(f"{p.file}:{row}:{p.column or ''}: {p.message}")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qi", description="Quality-improvement data for equality work: the store."
    )
    parser.add_argument("--db", metavar="URL", help="SQLAlchemy URL (default: QI_DATABASE_URL)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("teams", help="register teams from a table").add_argument("file")
    sub.add_parser("measures", help="load the measure catalogue").add_argument("file")
    imp = sub.add_parser("import", help="validate and store an upload of observations")
    imp.add_argument("file")
    imp.add_argument("--dry-run", action="store_true", help="validate only; store nothing")
    imp.add_argument("--note", default="", help="a note kept with the upload")
    exp = sub.add_parser("export", help="write what is shown, in the upload layout")
    exp.add_argument("--output", required=True, metavar="FILE", help=".csv or .xlsx")
    exp.add_argument("--as-of", metavar="INSTANT", help="a UTC instant, e.g. 2026-11-25T10:15:30")
    sub.add_parser("rollback", help="withdraw an upload").add_argument("id", type=int)
    sub.add_parser("sample", help="load the bundled sample collaborative")
    sub.add_parser("uploads", help="list the upload history")
    sub.add_parser(
        "groups", help="add or change group aliases (alias, code, label, broad_group)"
    ).add_argument("file")
    rep = sub.add_parser("report", help="write the board pack (PDF)")
    rep.add_argument("--output", required=True, metavar="FILE", help="the PDF to write")
    rep.add_argument("--teams", nargs="+", metavar="TEAM", help="default: every team")
    rep.add_argument("--measures", nargs="+", metavar="ID", help="default: every measure")
    rep.add_argument("--period", metavar="YYYY-MM", help="month reported (default: latest)")
    rep.add_argument("--as-of", metavar="INSTANT", help="read the data as at this UTC instant")
    rep.add_argument("--commentary", metavar="FILE", help="a UTF-8 text file, shown as typed")
    rep.add_argument("--rules", default="mdc", help="rule set of the charts (default mdc)")
    rep.add_argument("--phases", default="none", choices=["none", "changes"],
                     help="'changes': a new phase from each change idea's start")  # fmt: skip
    rep.add_argument("--groups", nargs="+", metavar="GROUP",
                     help="groups charted besides All (default: change ideas' groups)")  # fmt: skip
    rep.add_argument("--reference", default="White", help="reference group for equality")
    rep.add_argument("--title", default="Board pack")
    pdsa = sub.add_parser("pdsa", help="change ideas and PDSA cycles")
    pdsa_sub = pdsa.add_subparsers(dest="pdsa_command", required=True)
    pdsa_sub.add_parser("import", help="load change ideas and cycles").add_argument("file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    user = _user()
    try:
        with Store.open(args.db) as store:
            return _run(store, args, user)
    except UploadRejected as exc:
        _print_problems(exc.problems)
        return 1
    except (StoreError, ValueError, OSError) as exc:  # a clear line, never a traceback
        print(f"qi: {exc}", file=sys.stderr)
        return 1


def _run(store: Store, args: argparse.Namespace, user: str) -> int:
    if args.command == "teams":
        n = store.register_teams(args.file, user=user)
        print(f"{n} teams registered")
    elif args.command == "measures":
        n = store.load_measures(args.file, user=user)
        print(f"{n} measures loaded")
    elif args.command == "import":
        result = store.import_file(args.file, user=user, dry_run=args.dry_run, note=args.note)
        if result.problems:
            _print_problems(result.problems)
            return 1
        if args.dry_run:
            print(f"{result.rows} rows valid; nothing stored (dry run)")
        else:
            print(f"upload {result.upload_id}")
    elif args.command == "export":
        n = store.export(args.output, as_of=args.as_of)
        print(f"{n} rows written to {args.output}")
    elif args.command == "rollback":
        store.rollback(args.id, user=user)
        print(f"upload {args.id} rolled back")
    elif args.command == "sample":
        from qi.sample import load_sample

        summary = load_sample(store, user=user)
        print(summary)
    elif args.command == "groups":
        table, _ = store.read_small_table(args.file, ("alias", "code", "label", "broad_group"))
        n = store.set_group_aliases(table.drop(columns="_row"), user=user)
        print(f"{n} group aliases set")
    elif args.command == "uploads":
        print(store.uploads().to_string(index=False))
    elif args.command == "report":
        return _report(store, args)
    elif args.command == "pdsa":
        n = store.import_pdsa(args.file, user=user)
        print(f"{n} PDSA rows loaded")
    return 0


def _report(store: Store, args: argparse.Namespace) -> int:
    from pathlib import Path

    from qi import report

    commentary = ""
    if args.commentary:
        commentary = Path(args.commentary).read_text(encoding="utf-8")
    try:
        doc = _with_browser(lambda: report.pack_document(
            store, teams=args.teams, measures=args.measures, period=args.period,
            as_of=args.as_of, rules=args.rules, phases=args.phases, groups=args.groups,
            reference=args.reference, commentary=commentary, title=args.title,
        ))  # fmt: skip
        pdf = _with_browser(doc.pdf)
    except ValueError as exc:
        print(f"qi report: {exc}", file=sys.stderr)
        return 1
    Path(args.output).write_bytes(pdf)
    print(f"{doc.pages} pages, {doc.charts} charts written to {args.output}")
    return 0


def _with_browser(make):
    """Run ``make``; a missing browser for the chart images becomes a clear error."""
    try:
        return make()
    except Exception as exc:
        if "chrome" not in type(exc).__name__.lower():
            raise
        raise ValueError(
            "drawing the charts needs a Chromium browser: install Debian's package "
            "(apt-get install chromium) or set BROWSER_PATH to one; never download one"
        ) from exc


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
