"""`openrange console` (the instructor console's web server, its accounts and lane key) and
`openrange lane` (one lane as its own process, driven from the console)."""

from __future__ import annotations

import argparse
import contextlib
import errno
import getpass
import os
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from range.cli import util as cliutil
from range.deps import require

if TYPE_CHECKING:
    from range.console.store import ConsoleStore

LANE_KEY_ENV = "OPENRANGE_LANE_KEY"
ROLES = ("range_master", "instructor", "armorer", "officer")
# An account verb's --db, before or after the verb (`console --db URL adduser NAME` or
# `console adduser NAME --db URL`): the verb's own default is suppressed, since argparse lets a
# sub-command's default overwrite what was given before it (the account went to the default
# store).
_DB: dict[str, Any] = {
    "default": argparse.SUPPRESS,
    "type": cliutil.database_url,
    "metavar": "URL",
    "help": "records database (default: console's --db, OPENRANGE_DATABASE_URL or the local"
    " SQLite file)",
}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "console",
        help="the instructor console: a web page that runs the lanes live and holds the records",
        description="Serve the instructor console (docs/console.md). The first start asks, in the"
        " browser, for the range master's account; there is no default password.",
        **cliutil.examples(
            "openrange console",
            "openrange console --host 0.0.0.0 --port 8080 --db postgresql://range@db/openrange",
            "openrange console adduser lee --role instructor",
            "openrange console lane-key",
        ),
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=cliutil.tcp_port, default=8765, help="port (default 8765)")
    p.add_argument(
        "--db",
        default=None,
        type=cliutil.database_url,
        metavar="URL",
        help="records URL (default: OPENRANGE_DATABASE_URL or the local SQLite file)",
    )
    p.add_argument(
        "--runs-dir",
        type=Path,
        metavar="DIR",
        default=Path("runs") / "console",
        help="where the console keeps its copy of each lane's finished runs (default runs/console)",
    )
    p.add_argument(
        "--plain-http-cookie",
        action="store_true",
        help="leave the Secure flag off the session cookie (only for a browser that refuses"
        " Secure cookies over plain http on this address)",
    )
    p.set_defaults(handler=_serve)
    verbs = p.add_subparsers(title="account verbs", metavar="VERB")
    add = verbs.add_parser(
        "adduser",
        help="add an account (the password is asked for)",
        **cliutil.examples(
            "openrange console adduser ortiz",
            "openrange console adduser lee --role instructor",
            "openrange console adduser rivera --role officer --badge 4411",
        ),
    )
    add.add_argument(
        "name", metavar="NAME", help="the account's name: letters, digits, '.', '-' or '_'"
    )
    add.add_argument(
        "--role",
        choices=ROLES,
        default="range_master",
        help="range_master (the default: every page, accounts and the audit trail), instructor"
        " (runs lanes), armorer (watches lanes, reads records) or officer (their own records"
        " only; needs --badge)",
    )
    add.add_argument(
        "--badge", default=None, type=cliutil.badge, help="an officer's badge (their own records)"
    )
    add.add_argument("--db", **_DB)
    add.set_defaults(handler=_adduser)
    passwd = verbs.add_parser(
        "passwd",
        help="set an account's password (asked for)",
        **cliutil.examples("openrange console passwd lee"),
    )
    passwd.add_argument("name", metavar="NAME", help="an existing account")
    passwd.add_argument("--db", **_DB)
    passwd.set_defaults(handler=_passwd)
    role = verbs.add_parser(
        "role",
        help="change an account's role (its sessions end: it logs in again)",
        **cliutil.examples(
            "openrange console role lee armorer",
            "openrange console role rivera officer --badge 4411",
        ),
    )
    role.add_argument("name", metavar="NAME", help="an existing account")
    role.add_argument("role", choices=ROLES, help="the new role")
    role.add_argument(
        "--badge", default=None, type=cliutil.badge, help="an officer's badge (their own records)"
    )
    role.add_argument("--db", **_DB)
    role.set_defaults(handler=_role)
    for verb, what in (
        ("disable", "turn an account off: no login, its sessions end"),
        ("enable", "turn a disabled account on again"),
    ):
        example = cliutil.examples(f"openrange console {verb} lee")
        onoff = verbs.add_parser(verb, help=what, **example)
        onoff.add_argument("name", metavar="NAME", help="an existing account")
        onoff.add_argument("--db", **_DB)
        onoff.set_defaults(handler=_onoff, disable=verb == "disable")
    key = verbs.add_parser(
        "lane-key",
        help=f"print the key lanes present (give it to them in {LANE_KEY_ENV})",
        **cliutil.examples(
            "openrange console lane-key",
            "openrange console lane-key --db sqlite:///srv/openrange/records.sqlite",
        ),
    )
    key.add_argument("--db", **_DB)
    key.set_defaults(handler=_lane_key)

    lane = sub.add_parser(
        "lane",
        help="run one lane as its own process, driven from the instructor console",
        description=f"Connect to the console and run the drills it starts. The lane key comes from"
        f" {LANE_KEY_ENV} or --key-file (see `openrange console lane-key`).",
        **cliutil.examples(
            "openrange lane --console 10.0.0.5:8765 --name LANE1 --key-file lane.key",
            "openrange lane --console http://10.0.0.5:8765/ --name LANE2 --replica /dev/ttyACM0"
            " --replica /dev/ttyACM1 --speech play",
            "openrange lane --console 127.0.0.1:8765 --name BENCH --speed max --speech off",
        ),
    )
    lane.add_argument(
        "--console",
        required=True,
        type=cliutil.console_address,
        metavar="HOST:PORT",
        help="the console: HOST:PORT, or the address it prints (http://HOST:PORT/)",
    )
    lane.add_argument(
        "--name",
        required=True,
        type=_lane_name,
        help="this lane's name, e.g. LANE1: letters, digits, '.', '-' or '_', at most 32",
    )
    lane.add_argument(
        "--key-file",
        type=Path,
        default=None,
        metavar="FILE",
        help="a file holding the lane key (chmod 600)",
    )
    lane.add_argument(
        "--runs-dir",
        type=Path,
        default=Path("runs"),
        metavar="DIR",
        help="where runs are saved (default runs)",
    )
    lane.add_argument(
        "--speed",
        default="1",
        type=cliutil.lane_speed,
        help="drill time per real second (default 1; 'max': no pacing)",
    )
    lane.add_argument(
        "--speech",
        choices=("off", "wav", "play"),
        default="wav",
        help="lines spoken as a subject: saved with the run for the debrief (wav, the default),"
        " also played here as they are given (play), or neither (off); needs espeak-ng",
    )
    lane.add_argument(
        "--replica",
        action="append",
        default=[],
        metavar="PORT",
        help="a replica's serial port on this lane (repeat for each); the console shows each"
        " one's state, and a pulled cable, live",
    )
    lane.add_argument(
        "--replica-dir",
        action="append",
        default=[],
        type=Path,
        metavar="DIR",
        help="where a replica that comes back may register its port, besides the system's",
    )
    lane.set_defaults(handler=_lane)


def _say_created(store: ConsoleStore) -> None:
    """A records store this command made just now is said with where it is (nu25 #6: a
    relative `sqlite:///PATH` lands under the current directory)."""
    if store.records.created:
        print(f"openrange console: created the records store {store.records.where}", flush=True)


def _serve(args: argparse.Namespace) -> int:
    require("starlette", "uvicorn", "jinja2")
    from range.console.app import serve
    from range.console.store import ConsoleStore

    problem = runs_dir_problem(args.runs_dir)
    if problem is not None:
        print(f"openrange console: {problem}", file=sys.stderr)
        return 2
    with ConsoleStore.open(args.db) as store:
        first = not store.has_users()
        _say_created(store)
    # Bound before the address is printed: a port in use is said in one line, never after a
    # line that tells the user to open another process's address.
    try:
        sock = listening_socket(args.host, args.port)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            why = f"port {args.port} on {args.host} is in use (another console?)"
        else:
            why = f"cannot listen on {args.host} port {args.port}: {exc.strerror or exc}"
        print(f"openrange console: {why}", file=sys.stderr)
        return 3
    where = f"http://{args.host}:{args.port}/"
    print(
        f"openrange console on {where}"
        + (" (first start: open it to create the range master's account)" if first else ""),
        flush=True,
    )
    if not args.plain_http_cookie and args.host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"openrange console: on {args.host} browsers reach it over plain http, where they drop"
            " its Secure session cookie (logins fail): serve it behind HTTPS, or restart it with"
            " --plain-http-cookie on a closed range network",
            flush=True,
        )
    serve(
        args.host,
        args.port,
        args.db,
        secure_cookies=not args.plain_http_cookie,
        runs_dir=args.runs_dir,
        sock=sock,
    )
    return 0


def runs_dir_problem(path: Path) -> str | None:
    """Why the console cannot keep its runs in `path` (one line naming --runs-dir), None when
    it can: a folder it can write, made now if it is missing. Checked at start, so a finished
    run is never the first to find out."""
    if path.exists() and not path.is_dir():
        return f"--runs-dir {path} is a file, not a folder"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"--runs-dir {path} cannot be made: {exc.strerror or exc}"
    if not os.access(path, os.W_OK | os.X_OK):
        return f"--runs-dir {path} is a folder this user cannot write"
    return None


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to `host`:`port` for the console's server (OSError when it cannot
    be: the port in use, an address not this machine's)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _password(name: str) -> str:
    """The new password, twice from the terminal (not echoed), or one line from stdin."""
    if sys.stdin.isatty():
        password = getpass.getpass(f"password for {name}: ")
        if getpass.getpass("again: ") != password:
            raise ValueError("the passwords differ")
        return password
    return sys.stdin.readline().rstrip("\n")


def _passwd(args: argparse.Namespace) -> int:
    from range.console.auth import hash_password
    from range.console.store import ConsoleStore

    hashed = hash_password(_password(args.name))
    with ConsoleStore.open(args.db) as store:
        store.set_password(args.name, hashed)
        store.audit("cli:" + getpass.getuser(), "password_set", account=args.name)
    print(f"password of {args.name} set; its sessions ended")
    return 0


def _role(args: argparse.Namespace) -> int:
    from range.console.store import ConsoleStore, Role

    with ConsoleStore.open(args.db) as store:
        store.set_role(args.name, Role(args.role), args.badge)
        store.audit(
            "cli:" + getpass.getuser(),
            "account_role",
            account=args.name,
            role=args.role,
            badge=args.badge,
        )
    print(f"account {args.name} is now {args.role}; its sessions ended")
    return 0


def _onoff(args: argparse.Namespace) -> int:
    from range.console.store import ConsoleStore

    action = "disable" if args.disable else "enable"
    with ConsoleStore.open(args.db) as store:
        store.set_disabled(args.name, args.disable)
        store.audit("cli:" + getpass.getuser(), f"account_{action}d", account=args.name)
    print(f"account {args.name} {action}d")
    return 0


def _adduser(args: argparse.Namespace) -> int:
    from range.console.auth import hash_password
    from range.console.store import ConsoleStore, Role

    hashed = hash_password(_password(args.name))
    with ConsoleStore.open(args.db) as store:
        _say_created(store)
        store.add_user(args.name, Role(args.role), hashed, args.badge)
        store.audit(
            "cli:" + getpass.getuser(), "account_created", account=args.name, role=args.role
        )
    print(f"account {args.name} ({args.role}) added")
    return 0


def _lane_key(args: argparse.Namespace) -> int:
    from range.console.store import ConsoleStore

    with ConsoleStore.open(args.db) as store:
        print(store.secret("lane_key"))
    return 0


MIN_KEY_CHARS = 32  # `console lane-key` gives 43 (secrets.token_urlsafe(32))


def _read_key_file(path: Path) -> str:
    """The lane key in `path`; ValueError in one line naming the file when it is readable by
    group or others (a key anyone on the machine can read), missing, or not UTF-8 text."""
    try:
        mode = path.stat().st_mode
        if mode & 0o077:
            raise ValueError(
                f"--key-file {path}: readable by others (mode {mode & 0o777:o}): chmod 600 {path}"
            )
        return path.read_text(encoding="utf-8").strip()
    except UnicodeDecodeError:
        raise ValueError(f"--key-file {path}: not UTF-8 text (not a lane key)") from None
    except OSError as exc:
        raise ValueError(f"--key-file {path}: {exc.strerror}") from None


def _lane(args: argparse.Namespace) -> int:
    require("numpy", "pydantic", "serial", "pybullet", "websockets")
    from range.console.lane import LaneProcess, finite_speed

    key = os.environ.get(LANE_KEY_ENV, "")
    if args.key_file is not None:
        key = _read_key_file(args.key_file)
    if not key:
        raise ValueError(
            f"no lane key: set {LANE_KEY_ENV} or give --key-file (`openrange console lane-key`"
            " prints it)"
        )
    if len(key) < MIN_KEY_CHARS:
        raise ValueError(
            f"lane key: {len(key)} characters is too short (at least {MIN_KEY_CHARS}):"
            " use the one `openrange console lane-key` gives"
        )
    watch = None
    if args.replica:
        from peripherals.errors import PeripheralError
        from range.clock import MonotonicClock
        from range.console.replicas import ReplicaWatch

        try:
            watch = ReplicaWatch(args.replica, MonotonicClock(), args.replica_dir).open()
        except PeripheralError as exc:
            raise ValueError(f"lane {args.name}: a replica: {exc}") from None
    lane = LaneProcess(
        args.name,
        args.console,
        key,
        args.runs_dir,
        finite_speed(args.speed),
        speech=args.speech,
        replicas=watch,
    )
    print(f"lane {args.name}: connecting to {lane.url}", flush=True)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            lane.serve()
    finally:
        if watch is not None:
            watch.close()
    if lane.refused:
        raise ValueError(f"the console refused lane {args.name}: {lane.refused}")
    return 0


def _lane_name(text: str) -> str:
    """--name: a lane name as the console takes it (range/console/protocol.py
    `check_lane_name`), refused here in one line before any connection."""
    from range.console.protocol import check_lane_name

    text = cliutil.person(text)  # control characters and bad bytes said as for every name
    try:
        return check_lane_name(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
