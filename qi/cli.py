"""The ``qi`` command line.

The interface is fixed (checks outside the test suite drive it)::

    qi [--db URL] teams FILE            register teams (collaborative, ics, trust, team)
    qi [--db URL] measures FILE         load the measure catalogue
    qi [--db URL] import FILE [--dry-run] [--layout NAME] [--replaced OUT.csv]
    qi [--db URL] layout add NAME FILE  save a layout (TOML or JSON) for files in another shape
    qi [--db URL] layout list | layout show NAME
    qi [--db URL] template --output FILE [--period YYYY-MM]
                                        a CSV or Excel template to fill in
    qi [--db URL] export --output FILE [--as-of 2026-11-25T10:15:30]
    qi [--db URL] rollback ID
    qi [--db URL] sample                load the bundled sample collaborative
    qi [--db URL] pdsa import FILE      load change ideas and PDSA cycles (an optional tag
                                        column names a change of the change package)
    qi [--db URL] package [FILE]        load (replace) the change package (tag, change,
                                        primary_driver, secondary_driver[, description]),
                                        or, without FILE, print it
    qi [--db URL] learning [--by-change] [--output FILE.csv|.xlsx]
                                        what followed each change, where and for whom
                                        (the Learning page's table, as its download)
    qi [--db URL] uploads               list the upload history
    qi [--db URL] groups FILE           add or change group aliases (alias, code, label,
                                        broad_group): the ethnic-group mapping
    qi [--db URL] groupings FILE        add or replace groupings (grouping, group, members,
                                        aliases): the groups a measure reports
    qi [--db URL] board [--level team|trust|ics|collaborative] [--month 2026-10]
                  [--group All] [--output FILE.csv|.xlsx] [--small-numbers show|hide]
                                        the Board page's matrix, as its CSV download
    qi [--db URL] phase list [--teams T ...] [--withdrawn] | phase offer [--teams T ...]
                  [--rules mdc] | phase accept TEAM MEASURE --from 2025-04 [--group G]
                  [--rules mdc] | phase withdraw ID
                                        phases tied to changes (qi.phasing): offered after
                                        a logged change and a sustained shift, recorded
                                        with their reason, withdrawn (kept)
    qi [--db URL] owners FILE           set owners (team, measure, owner, sponsor,
                                        review_every_months[, since])
    qi [--db URL] review TEAM MEASURE [--on DATE] [--note TEXT]
                                        record that the owner reviewed the measure
    qi [--db URL] not-expected TEAM --from 2025-08 [--to 2025-09] [--measure ID]
                  --reason TEXT         a team not expected to report (a closed ward)
    qi [--db URL] report --output pack.pdf [--teams T ...] [--measures M ...]
                  [--period 2026-10] [--as-of INSTANT] [--commentary FILE] [--rules mdc]
                  [--phases none|changes|recorded] [--groups G ...] [--reference White] [--title T]
                                        the board pack as a PDF (see qi.report)

Access (when the store has accounts; with none, every command acts for the local
user, named by ``QI_USER`` or the login name)::

    qi [--db URL] login USER [--print-token]   sign in (password from a prompt, or one
                                        line on standard input); the session is kept in
                                        QI_SESSION_FILE (default: the user's config
                                        folder, readable by its owner only)
    qi [--db URL] logout | whoami
    qi [--db URL] users list
    qi [--db URL] users add USER --role ROLE --scope SCOPE --name NAME
                  [--display-name TEXT] [--email ADDRESS] [--no-password]
    qi [--db URL] users grant|revoke USER ROLE SCOPE NAME
    qi [--db URL] users password USER | users disable USER
    qi [--db URL] audit                 the audit log (facilitators)
    qi [--db URL] export --output FILE [--small-numbers show|hide]

A session token in ``QI_SESSION`` is used before the saved one. A refused request
prints ``qi: <why>``, changes nothing and exits 1. Passwords are never taken from
the command line itself.

The store is ``--db`` if given, else ``QI_DATABASE_URL``, else an SQLite file in the
user's data folder; an empty database gets the schema first. ``import`` prints
``upload <ID>`` and exits 0, or prints each problem as ``FILE:ROW:COLUMN: message``
(rows numbered as a spreadsheet shows them, header = row 1; file-level problems with
row and column empty), stores nothing and exits 1. A problem many rows share is one
line naming the first rows, and a file's problems are at most 50 lines. How a file in
another shape was read (its sheet, header row, columns) is said on standard error.
When the file replaces stored values (a correction), ``import`` (and ``import
--dry-run``, before anything is stored) then lists them, old → new; ``--replaced
OUT.csv`` writes them all.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from qi.access import ROLES, SCOPES  # plain data: no library is loaded for them

if TYPE_CHECKING:  # the store (SQLAlchemy, pandas) is loaded once a command needs it
    import pandas as pd

    from qi.store import Problem, Store


def _user() -> str:
    try:
        return os.environ.get("QI_USER") or getpass.getuser()
    except Exception:  # no login name (some containers)
        return "unknown"


def _shown(text: object) -> str:
    """Text for the terminal: every control or invisible character written as <U+001B>
    (a file name cannot recolour, move or clear the terminal), line by line."""
    from qi.store.text import visible

    return "\n".join(visible(line) for line in str(text).split("\n"))


def _table(frame: pd.DataFrame) -> str:
    """A table for the terminal, each text cell :func:`_shown`."""
    from qi.store.text import visible

    return frame.map(lambda v: visible(v) if isinstance(v, str) else v).to_string(index=False)


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
    imp.add_argument("--layout", metavar="NAME", help="read the file with a saved layout")
    lay = sub.add_parser("layout", help="saved upload layouts")
    lay_sub = lay.add_subparsers(dest="layout_command", required=True)
    lay_add = lay_sub.add_parser("add", help="save a layout from a TOML or JSON file")
    lay_add.add_argument("name")
    lay_add.add_argument("file")
    lay_sub.add_parser("list", help="the saved layouts")
    lay_sub.add_parser("show", help="a saved layout, as JSON").add_argument("name")
    tpl = sub.add_parser("template", help="a CSV or Excel template to fill in")
    tpl.add_argument("--output", required=True, metavar="FILE", help=".csv or .xlsx")
    tpl.add_argument("--period", metavar="YYYY-MM", help="the month (default: last month)")
    imp.add_argument("--replaced", metavar="OUT",
                     help="write every stored value the file replaces (old → new) to this "
                          ".csv or .xlsx")  # fmt: skip
    exp = sub.add_parser("export", help="write what is shown, in the upload layout")
    exp.add_argument("--output", required=True, metavar="FILE", help=".csv or .xlsx")
    exp.add_argument("--as-of", metavar="INSTANT", help="a UTC instant, e.g. 2026-11-25T10:15:30")
    exp.add_argument("--small-numbers", choices=["show", "hide"],
                     help="counts 1-7: shown (if your role allows) or hidden; default: "
                          "shown where your role allows")  # fmt: skip
    sub.add_parser("rollback", help="withdraw an upload").add_argument("id", type=int)
    sub.add_parser("sample", help="load the bundled sample collaborative")
    sub.add_parser("uploads", help="list the upload history")
    sub.add_parser(
        "groups", help="add or change group aliases (alias, code, label, broad_group)"
    ).add_argument("file")
    sub.add_parser(
        "groupings", help="add or replace groupings (grouping, group, members, aliases)"
    ).add_argument("file")
    rep = sub.add_parser("report", help="write the board pack (PDF)")
    rep.add_argument("--output", required=True, metavar="FILE", help="the PDF to write")
    rep.add_argument("--teams", nargs="+", metavar="TEAM", help="default: every team")
    rep.add_argument("--measures", nargs="+", metavar="ID", help="default: every measure")
    rep.add_argument("--period", metavar="YYYY-MM", help="month reported (default: latest)")
    rep.add_argument("--as-of", metavar="INSTANT", help="read the data as at this UTC instant")
    rep.add_argument("--commentary", metavar="FILE", help="a UTF-8 text file, shown as typed")
    rep.add_argument("--rules", default="mdc", help="rule set of the charts (default mdc)")
    rep.add_argument("--phases", default="none", choices=["none", "changes", "recorded"],
                     help="'changes': a new phase from each change idea's start")  # fmt: skip
    rep.add_argument("--groups", nargs="+", metavar="GROUP",
                     help="groups charted besides All (default: change ideas' groups)")  # fmt: skip
    rep.add_argument("--reference", default="White", help="reference group for equality")
    rep.add_argument("--title", default="Board pack")
    login = sub.add_parser("login", help="sign in; the password is asked for or read from stdin")
    login.add_argument("username")
    login.add_argument(
        "--print-token", action="store_true", help="print the token (for QI_SESSION), not save it"
    )
    sub.add_parser("logout", help="end the saved session")
    sub.add_parser("whoami", help="who the commands act for")
    sub.add_parser("audit", help="the audit log: every change, who and when")
    users = sub.add_parser("users", help="people and their roles")
    users_sub = users.add_subparsers(dest="users_command", required=True)
    users_sub.add_parser("list", help="accounts and their roles")
    add = users_sub.add_parser("add", help="add an account with its first role")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=list(ROLES))
    add.add_argument("--scope", required=True, choices=list(SCOPES))
    add.add_argument("--name", required=True, help="the collaborative, trust or team")
    add.add_argument("--display-name", default="")
    add.add_argument("--email", help="to sign in through the identity provider")
    add.add_argument("--no-password", action="store_true",
                     help="no local password (identity provider only; needs --email)")  # fmt: skip
    for verb in ("grant", "revoke"):
        change = users_sub.add_parser(verb, help=f"{verb} a role over a scope")
        change.add_argument("username")
        change.add_argument("role", choices=list(ROLES))
        change.add_argument("scope", choices=list(SCOPES))
        change.add_argument("name")
    users_sub.add_parser("password", help="set a password").add_argument("username")
    users_sub.add_parser("disable", help="stop an account signing in").add_argument("username")
    brd = sub.add_parser("board", help="the Board page's matrix, as its CSV download")
    brd.add_argument("--level", choices=("team", "trust", "ics", "collaborative"), default="team")
    brd.add_argument("--month", metavar="YYYY-MM", help="data up to this month (default: all)")
    brd.add_argument("--group", default="All", help="the group shown (default All)")
    brd.add_argument("--output", metavar="FILE", help=".csv or .xlsx (default: CSV on stdout)")
    brd.add_argument("--small-numbers", choices=("show", "hide"), default="hide")
    sub.add_parser("owners", help="set owners and review cadences").add_argument("file")
    rev = sub.add_parser("review", help="record that an owned measure was reviewed")
    rev.add_argument("team")
    rev.add_argument("measure")
    rev.add_argument("--on", metavar="DATE", help="the day reviewed (default today)")
    rev.add_argument("--note", default="")
    gap = sub.add_parser("not-expected", help="a team not expected to report for a while")
    gap.add_argument("team")
    gap.add_argument("--from", dest="start", metavar="YYYY-MM", required=True)
    gap.add_argument("--to", dest="end", metavar="YYYY-MM")
    gap.add_argument("--measure", help="one measure (default: every measure)")
    gap.add_argument("--reason", required=True)
    pdsa = sub.add_parser("pdsa", help="change ideas and PDSA cycles")
    pdsa_sub = pdsa.add_subparsers(dest="pdsa_command", required=True)
    pdsa_sub.add_parser("import", help="load change ideas and cycles").add_argument("file")
    _phase_parser(sub)
    pkg = sub.add_parser("package", help="load or print the change package")
    pkg.add_argument("file", nargs="?", help="the package to load (none: print it)")
    lrn = sub.add_parser("learning", help="what followed each change, where and for whom")
    lrn.add_argument("--by-change", action="store_true", help="one row per change")
    lrn.add_argument("--output", metavar="FILE", help=".csv or .xlsx (default: the terminal)")
    return parser


def _phase_parser(sub) -> None:
    """``qi phase list|offer|accept|withdraw``: phases tied to changes (qi.phasing)."""
    ph = sub.add_parser("phase", help="phases recorded from logged changes")
    ph_sub = ph.add_subparsers(dest="phase_command", required=True)
    lst = ph_sub.add_parser("list", help="the recorded phases and their reasons")
    lst.add_argument("--teams", nargs="+", metavar="TEAM")
    lst.add_argument("--withdrawn", action="store_true", help="withdrawn ones too")
    off = ph_sub.add_parser("offer", help="the phases the data offers after logged changes")
    off.add_argument("--teams", nargs="+", metavar="TEAM")
    off.add_argument("--rules", default="mdc")
    acc = ph_sub.add_parser("accept", help="record an offered phase (checked again first)")
    acc.add_argument("team")
    acc.add_argument("measure")
    acc.add_argument("--group", default="All")
    acc.add_argument("--from", dest="start", metavar="YYYY-MM", required=True)
    acc.add_argument("--rules", default="mdc")
    ph_sub.add_parser("withdraw", help="withdraw a recorded phase (kept, marked)").add_argument(
        "id", type=int
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)  # --help and a wrong command end here, at once
    from sqlalchemy.exc import DBAPIError

    from qi.store import Store, StoreError, UploadRejected

    user = _user()
    try:
        with Store.open(args.db) as opened:
            if args.command == "login":
                return _login(opened, args)
            if args.command == "logout":
                return _logout(opened)
            store = _session_store(opened)
            return _run(store, args, user)
    except UploadRejected as exc:
        _print_problems(exc.problems)
        return 1
    except (StoreError, ValueError, OSError) as exc:  # a clear line, never a traceback
        print(f"qi: {_shown(exc)}", file=sys.stderr)  # (a refusal, AccessDenied, is an OSError)
        return 1
    except DBAPIError as exc:  # the database refused or could not be reached
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        print(f"qi: the database refused this ({_shown(reason)}); nothing was changed",
              file=sys.stderr)  # fmt: skip
        return 1


# ---------------------------------------------------------------------- sessions
def _session_file() -> Path:
    from platformdirs import user_config_dir

    return Path(os.environ.get("QI_SESSION_FILE") or Path(user_config_dir("qi")) / "sessions")


def _saved_sessions() -> dict[str, str]:
    try:
        return json.loads(_session_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _save_sessions(sessions: dict[str, str]) -> None:
    path = _session_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(sessions, out)
    path.chmod(0o600)


def _url(store: Store) -> str:
    return store.engine.url.render_as_string(hide_password=True)


def _session_store(store: Store) -> Store:
    """The store acting for ``QI_SESSION`` or the session saved for this database."""
    token = _token(store)
    return store.with_session(token) if token else store


def _token(store: Store) -> str | None:
    return os.environ.get("QI_SESSION") or _saved_sessions().get(_url(store))


def _read_password(prompt: str, *, twice: bool = False) -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    password = getpass.getpass(prompt)
    if twice and getpass.getpass("Again: ") != password:
        raise ValueError("the two passwords differ; nothing was changed")
    return password


def _login(store: Store, args: argparse.Namespace) -> int:
    signed = store.sign_in(args.username, _read_password("Password: "))
    who = signed.whoami()
    if args.print_token:
        print(signed.token)
        return 0
    sessions = _saved_sessions()
    sessions[_url(store)] = signed.token
    _save_sessions(sessions)
    print(f"signed in as {_shown(who.label)} until {signed.expires_at:%Y-%m-%d %H:%M} UTC")
    return 0


def _logout(store: Store) -> int:
    token = _token(store)
    if token:
        try:
            store.with_session(token).sign_out()
        except PermissionError as exc:  # expired or ended already: the saved token goes too
            print(f"qi: {_shown(exc)}", file=sys.stderr)
    sessions = _saved_sessions()
    if sessions.pop(_url(store), None) is not None:
        _save_sessions(sessions)
    print("signed out")
    return 0


def _run(store: Store, args: argparse.Namespace, user: str) -> int:
    if args.command == "teams":
        n = store.register_teams(args.file, user=user)
        print(f"{n} teams registered")
    elif args.command == "measures":
        n = store.load_measures(args.file, user=user)
        print(f"{n} measures loaded")
    elif args.command == "import":
        result = store.import_file(
            args.file, user=user, dry_run=args.dry_run, note=args.note, layout=args.layout
        )
        if result.notes and not result.problems:
            print(f"qi: {args.file}: read as follows: " + "; ".join(result.notes), file=sys.stderr)
        if result.problems:
            _print_problems(result.problems)
            return 1
        if args.dry_run:
            print(f"{result.rows} rows valid; nothing stored (dry run)")
        else:
            print(f"upload {result.upload_id}")
        _print_replacements(result, dry_run=args.dry_run, out=args.replaced)
    elif args.command == "export":
        small = {None: None, "show": True, "hide": False}[args.small_numbers]
        n = store.export(args.output, as_of=args.as_of, small_numbers=small)
        print(f"{n} rows written to {args.output}")
    elif args.command == "layout":
        return _layout(store, args, user)
    elif args.command == "template":
        suffix = Path(args.output).suffix.lower()
        if suffix not in (".csv", ".xlsx"):
            raise ValueError(f"{args.output}: the template must end in .csv or .xlsx")
        content = store.upload_template(suffix[1:], period=args.period)
        Path(args.output).write_bytes(content)
        print(f"template written to {args.output}")
    elif args.command == "rollback":
        again = store.rollback(args.id, user=user)
        shown = f": {again} stored value(s) it had replaced shown again" if again else ""
        print(f"upload {args.id} rolled back{shown}")
    elif args.command == "sample":
        from qi.sample import load_sample

        summary = load_sample(store, user=user)
        print(summary)
    elif args.command == "groups":
        table, _ = store.read_small_table(args.file, ("alias", "code", "label", "broad_group"))
        n = store.set_group_aliases(table, user=user)
        print(f"{n} group aliases set")
    elif args.command == "groupings":
        n = store.set_groupings(args.file, user=user)
        print(f"{n} grouping rows set")
    elif args.command == "uploads":
        print(_table(store.uploads()))
    elif args.command == "report":
        return _report(store, args, user)
    elif args.command == "board":
        return _board(store, args)
    elif args.command == "owners":
        n = store.load_owners(args.file, user=user)
        print(f"{n} owners set")
    elif args.command == "review":
        store.record_review(args.team, args.measure, reviewed_on=args.on, note=args.note,
                            user=user)  # fmt: skip
        print(f"review of {args.measure} at {args.team} recorded")
    elif args.command == "not-expected":
        store.mark_not_expected(args.team, start=args.start, end=args.end, measure=args.measure,
                                reason=args.reason, user=user)  # fmt: skip
        print(f"{args.team} is not expected to report {args.measure or 'any measure'} from "
              f"{args.start}" + (f" to {args.end}" if args.end else ""))  # fmt: skip
    elif args.command == "pdsa":
        n = store.import_pdsa(args.file, user=user)
        print(f"{n} PDSA rows loaded")
    elif args.command == "phase":
        return _phase(store, args, user)
    elif args.command == "package":
        if args.file:
            n = store.load_change_package(args.file, user=user)
            print(f"change package loaded: {n} changes")
        else:
            package = store.change_package()
            if package.empty:
                print("no change package yet: qi package FILE")
            else:
                print(_table(package.drop(columns=["position"])))
    elif args.command == "learning":
        return _learning(store, args)
    elif args.command == "whoami":
        who = store.whoami(user)
        print("no one is signed in (qi login USER)" if who is None else _shown(who.label))
    elif args.command == "audit":
        print(_table(store.audit_log()))
    elif args.command == "users":
        return _users(store, args, user)
    return 0


def _phase(store, args: argparse.Namespace, user: str) -> int:
    from qi import phasing

    cmd = args.phase_command
    if cmd == "list":
        found = store.recorded_phases(teams=args.teams, withdrawn=args.withdrawn)
        print(_table(found) if len(found) else "no phases recorded")
    elif cmd == "offer":
        from qi.snapshot import Snapshot

        snap = Snapshot.from_store(store, teams=args.teams)
        found = phasing.offers(snap.series(), snap.pdsa, rules=args.rules, phases=snap.phases)
        for o in found.itertuples(index=False):
            print(_shown(f"{o.team} · {o.measure} · {o.group}: a new phase from "
                         f"{o.start:%Y-%m}: {o.reason}"))  # fmt: skip
        if found.empty:
            print("no phase is offered: no sustained shift follows a logged change")
    elif cmd == "accept":
        pid = phasing.accept(store, team=args.team, measure=args.measure, group=args.group,
                             start=args.start, rules=args.rules, user=user)  # fmt: skip
        print(_shown(f"phase {pid} recorded: {args.team} · {args.measure} · {args.group} "
                     f"from {args.start}"))  # fmt: skip
    elif cmd == "withdraw":
        store.withdraw_phase(args.id, user=user)
        print(f"phase {args.id} withdrawn")
    return 0


def _print_replacements(result, *, dry_run: bool, out: str | None) -> None:
    """The stored values an import replaces (or would), old → new, in at most 21 lines."""
    from qi.store.uploads import replacement_lines, replacement_table

    if out:
        from qi.store.export import write_table

        write_table(replacement_table(result.replacements), out)
    n = result.replaced
    if not n:
        return
    verb = "would replace" if dry_run else "replaces"
    print(f"this file {verb} {n} stored value{'s' if n != 1 else ''} (old → new):")
    for line in replacement_lines(result.replacements):
        print(line)
    if out:
        print(f"all of them written to {out}")


def _layout(store: Store, args: argparse.Namespace, user: str) -> int:
    from qi.store.layouts import Layout

    if args.layout_command == "add":
        store.save_layout(args.name, Layout.read(args.file), user=user)
        print(f"layout {args.name.strip()} saved: qi import FILE --layout {args.name.strip()}")
    elif args.layout_command == "list":
        print(store.layouts().to_string(index=False))
    elif args.layout_command == "show":
        print(json.dumps(store.layout(args.name).to_dict(), indent=2, ensure_ascii=False))
    return 0


def _users(store: Store, args: argparse.Namespace, user: str) -> int:
    cmd = args.users_command
    if cmd == "list":
        print(_table(store.people()))
    elif cmd == "add":
        password = None
        if not args.no_password:
            password = _read_password(f"Password for {args.username}: ", twice=True)
        store.add_user(
            args.username, password=password, display_name=args.display_name, email=args.email,
            role=args.role, scope=args.scope, name=args.name, user=user,
        )  # fmt: skip
        print(f"account {args.username.strip().lower()} added")
    elif cmd in ("grant", "revoke"):
        getattr(store, cmd)(args.username, args.role, args.scope, args.name, user=user)
        done = {"grant": "granted", "revoke": "revoked"}[cmd]
        print(f"{done}: {args.username} {args.role} for {args.scope} {args.name}")
    elif cmd == "password":
        who = store.whoami(user)
        target = args.username.strip().lower()
        own = who is not None and not who.local and who.username == target
        current = _read_password("Current password: ") if own else None
        new = _read_password(f"New password for {args.username}: ", twice=True)
        store.set_password(args.username, new, current=current, user=user)
        print(f"password of {args.username} changed; its sessions ended")
    elif cmd == "disable":
        store.disable_user(args.username, user=user)
        print(f"account {args.username} disabled; its sessions ended")
    return 0


def _board(store: Store, args: argparse.Namespace) -> int:
    """The Board page's matrix download, for a scheduled job: the same rows, columns and
    suppression as the page's CSV for the person the command acts for."""
    from qi import screens
    from qi.snapshot import Snapshot
    from qi.store import StoreError
    from qi.store.export import table_bytes

    snap = Snapshot.from_store(store)
    if args.month:
        snap = screens.narrowed(snap, until=args.month)
    view = screens.board(snap, level=args.level)
    if view.rows.empty:
        raise StoreError("no data to put on the board")
    if args.group not in view.groups:
        raise StoreError(f"no group {args.group!r} on the board: {', '.join(view.groups)}")
    picked = view.select(group=args.group)
    show = args.small_numbers == "show"
    if show and not store.may_see_small_numbers(list(picked.teams)).all():
        raise StoreError("your role does not allow small numbers for every team on this board")
    if show:
        picked = view.select(group=args.group, small_numbers=True)
    if args.output:
        fmt = "xlsx" if args.output.lower().endswith(".xlsx") else "csv"
        Path(args.output).write_bytes(table_bytes(picked.download, fmt))
        print(f"{len(picked.download)} rows written to {args.output} ({view.months_note})",
              file=sys.stderr)  # fmt: skip
    else:
        sys.stdout.write(table_bytes(picked.download, "csv").decode("utf-8-sig"))
    return 0


def _learning(store: Store, args: argparse.Namespace) -> int:
    """The Learning page's table (or its roll-up per change), in words."""
    from qi.screens.learning import learning_view
    from qi.snapshot import Snapshot
    from qi.store.export import table_bytes

    view = learning_view(Snapshot.from_store(store))
    frame = view.changes_words() if args.by_change else view.download()
    if args.output:
        fmt = "xlsx" if args.output.lower().endswith(".xlsx") else "csv"
        Path(args.output).write_bytes(table_bytes(frame, fmt))
        print(f"{len(frame)} rows written to {args.output}", file=sys.stderr)
    elif frame.empty:
        print("no change ideas yet: qi pdsa import FILE")
    else:
        cols = ["Change", "Team", "Group", "Cycles", "What followed"]
        print(_table(frame if args.by_change else frame[cols]))
    return 0


def _report(store: Store, args: argparse.Namespace, user: str) -> int:
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
            made_by=_made_by(store, user),
        ))  # fmt: skip
        pdf = _with_browser(doc.pdf)
    except ValueError as exc:
        print(f"qi report: {_shown(exc)}", file=sys.stderr)
        return 1
    Path(args.output).write_bytes(pdf)
    print(f"{doc.pages} pages, {doc.charts} charts written to {args.output}")
    return 0


def _made_by(store: Store, user: str) -> str | None:
    """Who makes a pack, as the store knows them (None: no one signed in)."""
    who = store.whoami(user)
    return None if who is None else who.label


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
