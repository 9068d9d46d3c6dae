"""The console's web application (Starlette on uvicorn): pages rendered on the server with
Jinja2, live lane state over WebSockets, accounts with roles, CSRF on every form and WebSocket.

One process serves the browsers and the lanes. A lane connects to /ws/lane with the range's lane
key; its state frames are forwarded as they are to every browser watching (/ws/live), and the
instructor's commands (POST /lanes/NAME/command) go back to it, each audited with who gave it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import shutil
import socket
import subprocess
import time
import traceback
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from range.cli.corrections import (
    RecordedCorrections,
    amend_records,
    chained_corrections,
    correct_speech,
    run_acts,
)
from range.cli.util import seed as run_seed
from range.console.auth import (
    ADDRESS_MAX_FAILURES,
    LoginLimiter,
    check_login,
    csrf_ok,
    hash_password,
    new_csrf_token,
)
from range.console.courselane import record_attempt
from range.console.graph import phase_graph_svg
from range.console.pages import (
    FOLDER_ERRORS,
    attempt_sheet,
    clip_wav,
    debrief,
    drill_run,
    folder_problem,
    officer_clip,
    officer_span,
    recent_runs,
    roster_page,
    run_state_at,
    scrubber_json,
    trend,
)
from range.console.protocol import (
    MAX_NOTE_CHARS,
    MAX_SAY_CHARS,
    Command,
    CommandError,
    MessageError,
    check_command,
    check_lane_name,
    check_start,
    parse_message,
    pending_state,
    refusal,
    unbundle,
    unrecorded_row,
)
from range.console.speech import SPEECH_DIR, write_speech
from range.console.store import (
    CAN_ADMIN,
    CAN_CONTROL,
    CAN_READ_ALL,
    MARK,
    MAX_NAME_CHARS,
    ConsoleStore,
    Role,
    StoredFailures,
    User,
    check_name,
    head_set_at_upgrade,
)
from range.console.view import EYES, ViewThread
from range.records.certificate import certificate_pdf_bytes, certificate_text
from range.records.store import RecordsError, closed_entry
from range.review.render import RenderUnavailableError
from range.review.replay import ReplayError
from range.review.video import review_video_path, write_review_video
from range.runs.runlog import read_events
from scoring.corrections import Correction, marks, span, utterances

HERE = Path(__file__).parent
SESSION_COOKIE = "openrange_session"
FAVICON = "favicon.svg"  # in static/, linked from base.html
SESSION_MAX_AGE_S = 8 * 3600  # one shift
# The eyes a run's review video is made from (range.review.video: officer and subject).
VIDEO_EYES = ("officer", "subject")
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self';"
        b" connect-src 'self'; frame-ancestors 'none'; form-action 'self'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
]


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + SECURITY_HEADERS
            await send(message)

        await self.app(scope, receive, with_headers)


class ForbiddenError(Exception):
    pass


LOGIN_FORM_EXPIRED = "This login form has expired: log in again."
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
COOKIE_OVER_HTTP = (
    "This console's session cookie is Secure, and a browser keeps a Secure cookie only over"
    " HTTPS (or on localhost): over plain http on this address it is dropped, so no login or"
    " form can work. Serve the console behind HTTPS, or (only on a closed range network)"
    " restart it with --plain-http-cookie."
)


def cookie_dropped(request: Request, secure_cookies: bool) -> bool:
    """Whether this browser reached a Secure-cookie console over plain http on an address that
    is not loopback: its session cookie will never come back."""
    host = (request.url.hostname or "").lower()
    return secure_cookies and request.url.scheme == "http" and host not in LOOPBACK_HOSTS


# The debrief's correction form's fields, as its errors name them (the command line names
# them --act and --reason).
CORRECT_FIELDS = {"act": "Act", "reason": "Why"}


def correct_field(name: str) -> str:
    return CORRECT_FIELDS.get(name, name)


def form_role(text: str) -> Role:
    """The Role field of the Accounts page's forms; ValueError in one line naming it."""
    if not text:
        raise ValueError("Role: choose a role")
    try:
        return Role(text)
    except ValueError:
        roles = ", ".join(r.value for r in Role)
        raise ValueError(f"Role: {text!r} is not a role; the roles: {roles}") from None


def live_acts() -> list[str]:
    """The acts an instructor may mark live: the built-in phrase book's acts and categories
    (a mark says the officer said it: never `none`)."""
    from drills.speech import CATEGORIES

    known = [a for a in run_acts(None) if a != "none"]
    return [*known, *(c for c in CATEGORIES if c not in known)]


class RunRefusedError(Exception):
    """A lane's finished run the records will not take; its text is the one-line reason."""


class LoginNeededError(Exception):
    pass


@dataclass
class LaneView:
    name: str
    state: dict[str, Any] = field(default_factory=lambda: {"status": "idle"})
    events: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=300))
    socket: WebSocket | None = None
    last_raw: str = ""
    # The running drill's phase graph (range/console/graph.py): sent once a run and in hellos.
    graph: dict[str, Any] | None = None
    # Finished runs the records refused, by the lane's run_dir (protocol.unrecorded_row): the
    # lane holds them until a range master retries or dismisses them.
    unrecorded: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The connected lane process's id (its hello's `instance`): the same process coming back
    # takes its name over from its stale link; another process with the name is refused.
    instance: str | None = None

    def take_graph(self, state: dict[str, Any]) -> None:
        """Keep a state's phase graph; a state with no phases (idle, a course) has none."""
        if isinstance(state.get("phase_graph"), dict):
            self.graph = state["phase_graph"]
        elif "phases" not in state:
            self.graph = None

    @property
    def connected(self) -> bool:
        return self.socket is not None

    def snapshot(self) -> dict[str, Any]:
        return {
            "type": "state",
            "lane": self.name,
            "connected": self.connected,
            "state": self.state,
            "events": list(self.events),
            "unrecorded": list(self.unrecorded.values()),
            "full": True,
        }


class BrowserFeed:
    """What one browser has still to be sent, in order; except that a lane's state frames not yet
    sent are merged into one (the newest state, every event), so a browser that falls behind
    (a tablet on Wi-Fi, eight lanes at 90 Hz) gets the newest state, never a backlog. A frame is
    never merged across another message about its lane (a full snapshot, a finished run)."""

    def __init__(self) -> None:
        # (lane, mergeable state frame, text, message)
        self.items: deque[tuple[str | None, bool, str, dict[str, Any] | None]] = deque()
        self.ready = asyncio.Event()

    def put(self, raw: str, message: dict[str, Any] | None = None) -> None:
        lane = None if message is None else message.get("lane")
        frame = message is not None and message.get("type") == "state" and not message.get("full")
        if frame and message is not None:
            for i in range(len(self.items) - 1, -1, -1):
                key, mergeable, _, old = self.items[i]
                if key != lane:
                    continue
                if mergeable and old is not None:
                    merged = {**message, "events": [*old["events"], *message["events"]]}
                    self.items[i] = (lane, True, json.dumps(merged), merged)
                    self.ready.set()
                    return
                break
        self.items.append((lane, frame, raw, message))
        self.ready.set()

    async def get(self) -> str:
        while not self.items:
            self.ready.clear()
            await self.ready.wait()
        return self.items.popleft()[2]


class Hub:
    """Lanes connected (and remembered after they go), and the browsers watching them."""

    def __init__(self) -> None:
        self.lanes: dict[str, LaneView] = {}
        self.browsers: set[BrowserFeed] = set()

    def broadcast(self, text: str, message: dict[str, Any] | None = None) -> None:
        for feed in list(self.browsers):
            feed.put(text, message)


class Console:
    def __init__(
        self,
        db_url: str | None,
        secure_cookies: bool = True,
        clock: Callable[[], float] = time.time,
        runs_dir: Path = Path("runs") / "console",
    ) -> None:
        self.db_url = db_url
        self.runs_dir = runs_dir
        self.secure_cookies = secure_cookies
        # One account's failures from one address lock only that account there (5); an
        # address trying many names is stopped at ADDRESS_MAX_FAILURES. The failures are kept
        # in the records store (a restart does not clear them), timed by `clock`: the wall
        # clock, which, unlike a monotonic one, goes on across restarts.
        failures = StoredFailures(self.store)
        self.limiter = LoginLimiter(clock, log=failures)
        self.address_limiter = LoginLimiter(clock, ADDRESS_MAX_FAILURES, log=failures)
        self.hub = Hub()
        self.templates = Jinja2Templates(directory=str(HERE / "templates"))
        self.views = ViewThread()
        self.video_lock = asyncio.Lock()
        with self.store() as store:
            self.session_key = store.secret("session_key")
            self.lane_key = store.secret("lane_key")
            # Lanes that held runs unrecorded when this console last ran: listed (not
            # connected, flagged) until each re-attaches and says what it holds now.
            for name, rows in store.unrecorded().items():
                self.hub.lanes[name] = LaneView(name, unrecorded={r["run_dir"]: r for r in rows})

    def store(self) -> ConsoleStore:
        return ConsoleStore.open(self.db_url)

    # -- helpers -------------------------------------------------------------------------------

    def user(self, request: Request | WebSocket) -> User | None:
        name, sid = request.session.get("user"), request.session.get("sid")
        if not name or not sid:
            return None
        with self.store() as store:
            return store.session_user(str(sid), str(name))

    def require(self, request: Request, roles: set[Role] | None = None) -> User:
        user = self.user(request)
        if user is None:
            raise LoginNeededError
        if roles is not None and user.role not in roles:
            raise ForbiddenError
        return user

    def csrf(self, request: Request) -> str:
        token = request.session.get("csrf")
        if not token:
            token = new_csrf_token()
            request.session["csrf"] = token
        return str(token)

    async def form(self, request: Request) -> FormData:
        """The posted form, refused (403) unless it carries this session's CSRF token."""
        form = await request.form()
        given = form.get("csrf")
        if not csrf_ok(request.session.get("csrf"), given if isinstance(given, str) else None):
            raise ForbiddenError
        return form

    def page(self, request: Request, template: str, user: User | None, **context: Any) -> Response:
        return self.templates.TemplateResponse(
            request,
            template,
            {
                "user": user,
                "csrf": self.csrf(request),
                "lanes": dict(sorted(self.hub.lanes.items())),  # by name, not connection order
                "name_max": MAX_NAME_CHARS,
                **context,
            },
        )

    def error(
        self, request: Request, user: User | None, message: str, status: int = 404
    ) -> Response:
        """A page with one line: what is missing or wrong (404 for an id nothing has, 400 for
        a bad query, 503 for a run folder that is missing or damaged on the console's disk)."""
        response = self.page(request, "error.html", user, message=message)
        response.status_code = status
        return response

    def store_down(self, request: Request, exc: RecordsError) -> Response:
        """The page for a request the records store failed under (PostgreSQL stopped or
        unreachable, a store damaged or on a disk gone: nu25 #5): 503 with one line naming the
        store (its password hidden), said in one line in the console's log, never a traceback.
        No user is named: finding who is logged in needs the store too."""
        why = str(exc) or type(exc).__name__
        print(f"console: {request.url.path}: {why}", flush=True)
        message = f"The records store cannot be used right now: {why}"
        return self.error(request, None, message, 503)

    async def not_found(self, request: Request, exc: Exception) -> Response:
        """A path no page has (`/runs/abc`, `/runs/-1`): the one-line error page, as for an id
        nothing has; without a session, the bare 404 (nothing but the login page is shown)."""
        try:
            user = self.user(request)
        except RecordsError as down:
            return self.store_down(request, down)
        if user is None:
            return PlainTextResponse("Not Found", 404)
        return self.error(request, user, f"No page at {request.url.path}.")

    def _with_records(self, work: Callable[..., Any], *args: Any) -> Any:
        """`work(records, *args)` on a connection of its own (SQLite connections stay in the
        thread that opened them; this runs in a worker thread)."""
        with self.store() as store:
            return work(store.records, *args)

    def keep_unrecorded(self, lane: LaneView) -> None:
        """Write what `lane` holds unrecorded to the store, so a restarted console shows it;
        a store that fails is said in the console's log (the lane still holds the runs)."""
        try:
            with self.store() as store:
                store.set_unrecorded(lane.name, list(lane.unrecorded.values()))
        except (RecordsError, OSError) as exc:
            print(f"console: lane {lane.name}: runs not recorded not kept: {exc}", flush=True)

    def audit(self, actor: str, action: str, **detail: Any) -> None:
        with self.store() as store:
            store.audit(actor, action, **detail)

    # -- login -----------------------------------------------------------------------------------

    async def login(self, request: Request) -> Response:
        with self.store() as store:
            if not store.has_users():
                return RedirectResponse("/setup", 303)
        if request.method == "GET":
            # Straight after the first start's form: say the account is made.
            first = request.query_params.get("first") == "1"
            return self.page(
                request,
                "login.html",
                None,
                error=None,
                first=first,
                cookie_warning=COOKIE_OVER_HTTP
                if cookie_dropped(request, self.secure_cookies)
                else None,
            )
        try:
            form = await self.form(request)
        except ForbiddenError:
            # A login form without its token is one from before this session (a console
            # restarted, a tab left open past the cookie's life): said so, with a fresh form.
            dropped = SESSION_COOKIE not in request.cookies and cookie_dropped(
                request, self.secure_cookies
            )
            response = self.page(
                request,
                "login.html",
                None,
                error=COOKIE_OVER_HTTP if dropped else LOGIN_FORM_EXPIRED,
            )
            response.status_code = 403
            return response
        name = str(form.get("name", ""))
        password = str(form.get("password", ""))
        host = request.client.host if request.client else "?"
        keys = (f"pair:{host}:{name}",)
        wait_s = max(
            self.limiter.blocked_for_s(*keys), self.address_limiter.blocked_for_s(f"addr:{host}")
        )
        if wait_s > 0:
            self.audit(name or "?", "login_refused", why="rate limited", address=host)
            response = self.page(
                request,
                "login.html",
                None,
                error=f"Too many failed logins: try again in {wait_s:.0f} s.",
            )
            response.status_code = 429
            return response
        with self.store() as store:
            user = store.user(name)
        ok = await run_in_threadpool(check_login, user.password_hash if user else None, password)
        if ok and user is not None and user.disabled:
            self.audit(user.name, "login_refused", why="account disabled", address=host)
            response = self.page(request, "login.html", None, error="This account is disabled.")
            response.status_code = 403
            return response
        if not ok or user is None:
            self.limiter.failed(*keys)
            self.address_limiter.failed(f"addr:{host}")
            self.audit(name or "?", "login_failed", address=host)
            response = self.page(request, "login.html", None, error="Wrong name or password.")
            response.status_code = 401
            return response
        self.limiter.succeeded(*keys)
        request.session.clear()  # a new session on login: no fixation
        with self.store() as store:
            sid = store.new_session(user.name, SESSION_MAX_AGE_S)
        request.session["user"] = user.name
        request.session["sid"] = sid
        request.session["csrf"] = new_csrf_token()
        self.audit(user.name, "login", address=host)
        return RedirectResponse("/", 303)

    async def logout(self, request: Request) -> Response:
        user = self.require(request)
        await self.form(request)
        with self.store() as store:
            store.end_session(str(request.session.get("sid")))  # the old cookie is dead too
        request.session.clear()
        self.audit(user.name, "logout")
        return RedirectResponse("/login", 303)

    async def setup(self, request: Request) -> Response:
        """First start: create the range master account (there is no default password)."""
        with self.store() as store:
            if store.has_users():
                return RedirectResponse("/login", 303)
        if request.method == "GET":
            return self.page(request, "setup.html", None, error=None)
        form = await self.form(request)
        name, password = str(form.get("name", "")), str(form.get("password", ""))
        try:
            check_name(name)  # the name first, as the form asks for it first
        except RecordsError as exc:
            return self.page(request, "setup.html", None, error=str(exc), name=name)
        if password != form.get("again"):
            return self.page(request, "setup.html", None, error="The passwords differ.", name=name)
        try:
            hashed = await run_in_threadpool(hash_password, password)
            with self.store() as store:
                if store.has_users():
                    return RedirectResponse("/login", 303)
                store.add_user(name, Role.RANGE_MASTER, hashed, None)
                store.audit(name, "account_created", account=name, role=Role.RANGE_MASTER.value)
        except (ValueError, RecordsError) as exc:
            return self.page(request, "setup.html", None, error=str(exc), name=name)
        return RedirectResponse("/login?first=1", 303)

    # -- lanes -----------------------------------------------------------------------------------

    async def home(self, request: Request) -> Response:
        user = self.require(request)
        if user.role is Role.OFFICER:
            return RedirectResponse(f"/officers/{user.badge}", 303)
        # The address a lane gives --console: this console as the browser reached it.
        return self.page(
            request,
            "lanes.html",
            user,
            address=request.url.netloc,
            can_admin=user.role in CAN_ADMIN,
        )

    async def lane(self, request: Request) -> Response:
        user = self.require(request, CAN_READ_ALL)
        name = request.path_params["name"]
        lane = self.hub.lanes.get(name)
        if lane is None:
            return self.error(request, user, f"No lane {name}.")
        from drills.course import builtin_courses, builtin_shooters
        from drills.officer import builtin_officers
        from drills.schema import builtin_drills

        with self.store() as store:
            officers = store.records.officers()
        return self.page(
            request,
            "lane.html",
            user,
            lane=lane,
            # Each drill with the replicas it issues: a run opens only those.
            drills=[(k, d.issued_weapons()) for k, d in sorted(builtin_drills().items())],
            weapon_names=WEAPON_NAMES,
            courses=sorted(builtin_courses()),
            shooters=sorted(builtin_shooters()),
            scripts=sorted(builtin_officers()),
            officers=officers,
            can_control=user.role in CAN_CONTROL,
            can_admin=user.role in CAN_ADMIN,
            acts=live_acts(),
            # Which commands apply now (the page greys the rest; console.js keeps it so live).
            applies={
                c.value: refusal(c, name, lane.state, lane.connected) is None for c in Command
            },
            say_max=MAX_SAY_CHARS,
            note_max=MAX_NOTE_CHARS,
        )

    async def view(self, request: Request) -> Response:
        """The lane's live view from the officer's or the subject's eyes, as a PNG."""
        self.require(request, CAN_READ_ALL)
        lane = self.hub.lanes.get(request.path_params["name"])
        eye = request.query_params.get("eye", "officer")
        if eye not in EYES:  # a bad query: 400, not "no run on this lane" (nu22 #6)
            return Response(f"eye={eye}: one of {', '.join(EYES)}", 400)
        if lane is None or "lane_ft" not in lane.state:
            return Response("no run on this lane", 404)
        image = await asyncio.wrap_future(self.views.render(dict(lane.state), eye))
        return Response(image, media_type="image/png")

    async def phases(self, request: Request) -> Response:
        """The lane's drill as a phase graph (SVG), the phases its subjects are in now filled."""
        self.require(request, CAN_READ_ALL)
        lane = self.hub.lanes.get(request.path_params["name"])
        graph = None if lane is None else lane.graph
        if lane is None or graph is None:
            return Response("no drill on this lane", 404)
        current = [str(s.get("phase")) for s in lane.state.get("subjects", [])]
        return Response(phase_graph_svg(graph, current), media_type="image/svg+xml")

    async def command(self, request: Request) -> Response:
        user = self.require(request, CAN_CONTROL)
        form = await self.form(request)
        name = request.path_params["name"]
        lane = self.hub.lanes.get(name)
        try:
            command = Command(str(form.get("command", "")))
        except ValueError:
            return Response("unknown command", 400)
        args = {
            k: str(v)
            for k, v in form.items()
            if k not in ("csrf", "command") and isinstance(v, str) and v != ""
        }
        if command is Command.START:
            refused = self._check_start(args)
            if refused is not None:
                return Response(refused, 400)
        if lane is None or lane.socket is None:
            return Response(f"lane {name} is not connected", 409)
        # What cannot apply to the lane as it is now (a pause on an idle lane, a resume of a
        # run not paused, a branch on a course): refused, as the page greys it out.
        refused = refusal(command, name, lane.state, connected=True)
        if refused is not None:
            return Response(refused, 409)
        try:
            check_command(command, args, lane.state, live_acts())
        except CommandError as exc:
            return Response(str(exc), 400)
        message = {"type": "command", "command": command.value, "by": user.name, "args": args}
        # Every command is taken as done until the lane's next frame says how it is, so the
        # commands to one lane are judged one after another: a second press before then is
        # refused as the state it leads to says ("already paused", "running a drill: abort it
        # first"), not sent as a second command the lane would drop; an abort right after a
        # start is sent, and the lane applies it to the run it starts. Taken as done before
        # the send's await: requests pressed at once are judged while this one sends.
        # An abort keeps the folder of the course it cuts off (the lane's state names it): a
        # lane that dies before marking it aborted offers it cut short, and it is then not
        # recorded (`_course_finished`, rc20 #7).
        aborted = lane.state.get("run") if command is Command.ABORT else None
        lane.state = pending_state(command, lane.state, args)
        run = {"run": aborted} if isinstance(aborted, str) and aborted else {}
        self.audit(user.name, f"lane_{command.value}", lane=name, **args, **run)
        await lane.socket.send_text(json.dumps(message))
        if request.headers.get("x-requested-with") == "fetch":
            return Response("sent", 202)
        return RedirectResponse(f"/lanes/{name}", 303)

    def _check_start(self, args: dict[str, str]) -> str | None:
        """Ready a START's form for the lane (in place) and say in one line, naming the field,
        why it cannot start (None: it can); nothing is sent or audited for a refused start."""
        if args.get("course"):
            # A course's form: no drill fields are played, so none are sent or audited.
            for key in ("drill", "drill_file", "script"):
                args.pop(key, None)
        else:
            args.pop("shooter", None)
            if args.get("drill_file"):
                # A drill file given wins over the drop-down's drill, which is then not played:
                # not sent, not audited (the audit named the drop-down's drill beside the file).
                args.pop("drill", None)
        if "seed" in args:
            # Refused here, as `--seed` is on the command line: a seed the records cannot store
            # would fail only when the finished run is recorded.
            try:
                args["seed"] = str(run_seed(args["seed"]))
            except argparse.ArgumentTypeError as exc:
                return f"Seed: {exc}"
        try:
            check_start(args)
        except CommandError as exc:
            return str(exc)
        if args.get("badge"):
            # An officer the records do not know: refused now, not when the run is recorded.
            # One they know runs under their name (the live page, the run's log, the debrief).
            try:
                with self.store() as store:
                    officer = store.records.officer(args["badge"])
            except RecordsError as exc:
                return f"Officer: {exc}"
            args.setdefault("officer", str(officer["name"]))
        return None

    async def remove_lane(self, request: Request) -> Response:
        """A range master removes a lane gone away (not connected) from the Lanes page, and
        what the console kept of its runs not recorded (the lane lists them again if it comes
        back); audited. A connected lane is not removed."""
        user = self.require(request, CAN_ADMIN)
        await self.form(request)
        name = request.path_params["name"]
        lane = self.hub.lanes.get(name)
        if lane is None:
            return self.error(request, user, f"No lane {name}.")
        if lane.connected:
            return self.error(request, user, f"lane {name} is connected: stop it first", 409)
        del self.hub.lanes[name]
        with self.store() as store:
            store.set_unrecorded(name, [])
            store.audit(user.name, "lane_removed", lane=name, unrecorded=len(lane.unrecorded))
        gone = {"type": "removed", "lane": name}
        self.hub.broadcast(json.dumps(gone), gone)
        return RedirectResponse("/", 303)

    async def lane_socket(self, ws: WebSocket) -> None:
        await ws.accept()
        try:
            hello = parse_message(await ws.receive_text())
        except WebSocketDisconnect:
            return
        except MessageError as exc:
            await ws.send_text(json.dumps({"type": "refused", "reason": str(exc)}))
            await ws.close(1008)
            return
        if hello.get("type") != "hello" or not csrf_ok(self.lane_key, hello.get("key")):
            await ws.send_text(json.dumps({"type": "refused", "reason": "wrong lane key"}))
            await ws.close(1008)
            return
        if not isinstance(hello.get("lane"), str) or not hello["lane"]:
            await ws.send_text(json.dumps({"type": "refused", "reason": "a hello with no lane"}))
            await ws.close(1008)
            return
        name = hello["lane"]
        try:
            check_lane_name(name)
        except ValueError as exc:
            # A name with path parts could never be opened (/lanes/../x), a long one breaks
            # the tables: refused in one line, as a wrong key is (the lane says it and stops).
            await ws.send_text(json.dumps({"type": "refused", "reason": str(exc)}))
            await ws.close(1008)
            return
        instance = hello.get("instance")
        instance = instance if isinstance(instance, str) and instance else None
        lane = self.hub.lanes.setdefault(name, LaneView(name))
        if lane.socket is not None and (instance is None or instance != lane.instance):
            # Two processes under one name would take each other's runs and commands: the
            # first keeps the name while it is connected; the second is told why and stops.
            reason = f"a lane named {name} is already connected: give this one another --name"
            self.audit("lane:" + name, "lane_refused", why="name in use")
            await ws.send_text(json.dumps({"type": "refused", "reason": reason}))
            await ws.close(1008)
            return
        # Told before anything else: the lane says it is connected only now (a wrong key is
        # refused above, and the lane never claimed a connection it did not have).
        await ws.send_text(json.dumps({"type": "attached", "lane": name}))
        lane.socket = ws
        lane.instance = instance
        lane.state = hello.get("state") or {"status": "idle"}
        graph = hello.get("phase_graph")
        lane.graph = graph if isinstance(graph, dict) and "phases" in lane.state else None
        lane.events.clear()
        lane.events.extend(hello.get("events") or [])
        held = hello.get("unrecorded")
        lane.unrecorded = {
            r["run_dir"]: unrecorded_row(r, str(r.get("reason") or "refused"))
            for r in (held if isinstance(held, list) else [])
            if isinstance(r, dict) and isinstance(r.get("run_dir"), str)
        }
        self.keep_unrecorded(lane)
        self.audit("lane:" + name, "lane_attached")
        snapshot = lane.snapshot()
        self.hub.broadcast(json.dumps(snapshot), snapshot)
        for result in hello.get("finished") or []:
            if isinstance(result, dict):
                await self._finished(ws, name, result)
        try:
            while True:
                raw = await ws.receive_text()
                try:
                    message = parse_message(raw)
                except MessageError as exc:
                    # Told to the lane and skipped: one bad frame does not drop a live run.
                    await ws.send_text(json.dumps({"type": "error", "reason": str(exc)}))
                    continue
                kind = message.get("type")
                if kind == "state" and isinstance(message.get("state"), dict):
                    if not isinstance(message.get("events"), list):
                        message["events"] = []
                    lane.state = message["state"]
                    lane.take_graph(lane.state)
                    if message.get("new_run"):
                        # A new run's first frame: its events only, and browsers start afresh.
                        lane.events.clear()
                        lane.events.extend(message["events"])
                        snapshot = lane.snapshot()
                        self.hub.broadcast(json.dumps(snapshot), snapshot)
                        continue
                    lane.events.extend(message["events"])
                    self.hub.broadcast(raw, message)
                elif kind == "finished" and isinstance(message.get("result"), dict):
                    await self._finished(ws, name, message["result"])
                elif kind == "error":
                    self.hub.broadcast(raw, message)
        except (WebSocketDisconnect, RuntimeError, ValueError):
            pass
        finally:
            if lane.socket is ws:
                lane.socket = None
                snapshot = lane.snapshot()
                self.hub.broadcast(json.dumps(snapshot), snapshot)

    async def _finished(self, ws: WebSocket, lane: str, result: dict[str, Any]) -> None:
        """A finished run goes into the records once, then is acknowledged. The console keeps
        its own copy of the run's folder (sent with it), so its debrief never needs the lane's
        disk: lanes may be other machines. A run the records refuse (an unknown badge, a store
        error) is answered `unrecorded` with the reason, once: the lane holds it, and the
        lane is shown flagged until a range master retries or dismisses it."""
        lane_dir = result.get("run_dir")
        if lane_dir:
            lane_dir = str(lane_dir)
            work = self._course_finished if result.get("kind") == "course" else self._drill_finished
            try:
                await run_in_threadpool(work, lane, result)
            except RunRefusedError as exc:
                reason = " ".join(str(exc).split())
                await ws.send_text(
                    json.dumps({"type": "unrecorded", "run_dir": lane_dir, "reason": reason})
                )
                view = self.hub.lanes.get(lane)
                if view is not None:
                    view.unrecorded[lane_dir] = unrecorded_row(result, reason)
                    self.keep_unrecorded(view)
                    snapshot = view.snapshot()
                    self.hub.broadcast(json.dumps(snapshot), snapshot)
                return
            await ws.send_text(json.dumps({"type": "recorded", "run_dir": lane_dir}))
            view = self.hub.lanes.get(lane)
            if view is not None and view.unrecorded.pop(lane_dir, None) is not None:
                self.keep_unrecorded(view)
                snapshot = view.snapshot()
                self.hub.broadcast(json.dumps(snapshot), snapshot)
        done = {"type": "finished", "lane": lane}
        self.hub.broadcast(json.dumps(done), done)

    def _refused(self, lane: str, result: dict[str, Any], folder: Path, why: str) -> None:
        """Audit a refused run and drop the console's copy of its folder (the lane keeps its
        own; a retry sends it again), then raise RunRefusedError with `why`. The store may be
        what failed: then the audit row is told to the console's log instead."""
        try:
            self.audit(
                "lane:" + lane,
                "run_refused",
                lane=lane,
                run_dir=str(result.get("run_dir")),
                badge=str(result.get("badge") or ""),
                why=why,
            )
        except (RecordsError, OSError) as exc:
            print(f"console: lane {lane}: a run refused ({why}) and not audited: {exc}", flush=True)
        shutil.rmtree(folder, ignore_errors=True)
        raise RunRefusedError(why)

    def _aborted_by(self, lane: str, run: str) -> str | None:
        """Who sent an abort to `lane` for its run (a course or a drill) in folder `run` (the
        audit trail's `lane_abort` rows keep it), or None."""
        with self.store() as store:
            rows = store.records.query(
                "SELECT actor, detail FROM console_audit WHERE action = 'lane_abort'"
                " ORDER BY id DESC"
            )
        for row in rows:
            try:
                detail = json.loads(row["detail"])
            except ValueError:
                continue
            if isinstance(detail, dict) and (detail.get("lane"), detail.get("run")) == (lane, run):
                return str(row["actor"])
        return None

    def _drill_finished(self, lane: str, result: dict[str, Any]) -> None:
        """A drill run from a lane: its folder kept and the run recorded for its badge (an
        officer the records know, or none), audited with who started it; once."""
        folder = self.runs_dir / f"{lane}-{Path(str(result['run_dir'])).name}"
        try:
            with self.store() as store:
                if store.records.drill_runs_at(folder):  # recorded already
                    return
            result = self._abort_heard(lane, result)  # once: not for a run offered again
            with self.store() as store:
                unbundle(result.pop("files", {}), folder)
                if result.pop("speech_left_out", False):
                    self._speech_again(lane, folder)
                badge = str(result.get("badge") or "")
                if badge:
                    store.records.officer(badge)
                # The audit trail as it stands, kept in the run's own chained result: a trail
                # wiped since is shorter than the record says (rc21 #6).
                kept = {**result, "run_dir": str(folder), MARK: store.audit_mark()}
                run_id = store.records.add_drill_run(badge, kept)
                store.audit(
                    str(result.get("started_by") or "lane:" + lane),
                    "run_recorded",
                    lane=lane,
                    run=run_id,
                    badge=badge,
                    drill=result.get("drill"),
                )
        except Exception as exc:  # never out to the link: the lane would offer it forever
            self._refused(lane, result, folder, _why(exc))

    def _abort_heard(self, lane: str, result: dict[str, Any]) -> dict[str, Any]:
        """A drill run's result as the console's own audit trail says it ended, where an abort
        it sent for that run (the lane's state names the run's folder, kept with the abort)
        crossed the run's end (rc20 #7's race, for drills). A lane that died before the abort
        ended the run offers it cut short: recorded ABORTED by who aborted it, as an abort the
        lane applied is, never INCOMPLETE (the console said 'aborted'). A run that had already
        ended when the abort reached the lane is recorded as it ended, and the audit trail
        says the abort came too late, so it never reads both aborted and complete."""
        if result.get("state") == "aborted" or not result.get("run_dir"):
            return result
        run = Path(str(result["run_dir"])).name
        by = self._aborted_by(lane, run)
        if by is None:
            return result
        if result.get("cut_short"):
            said = f"aborted by {by}; {result.get('end_reason') or 'the lane stopped mid-run'}"
            print(f"console: lane {lane}: {run}: {said}: recorded ABORTED", flush=True)
            return {**result, "state": "aborted", "end_reason": said}
        ended = result.get("state") or "ended"
        self.audit(
            "lane:" + lane,
            "abort_too_late",
            lane=lane,
            run_dir=str(result["run_dir"]),
            why=f"the run had {ended} before the abort of {by} reached the lane:"
            " recorded as it ended",
        )
        return result

    def _speech_again(self, lane: str, folder: Path) -> None:
        """The spoken lines a lane left out of a run's bundle (protocol.bundle: they would
        have taken it over the size limit), written again here from the log; said in the
        console's log when they cannot be (the run is recorded all the same)."""
        try:
            write_speech(folder, read_events(folder))
        except (OSError, ValueError, subprocess.SubprocessError) as exc:
            print(f"console: lane {lane}: {folder.name}: spoken lines not written: {exc}")

    def _course_finished(self, lane: str, result: dict[str, Any]) -> None:
        """A course fired on a lane: its folder kept (once: the folder is the marker) and, for
        an officer's badge, the attempt recorded with its score (audited with who started
        it). A scripted shooter's attempt is recorded as the simulation it is."""
        folder = self.runs_dir / f"{lane}-{Path(str(result['run_dir'])).name}"
        if folder.exists():
            return
        if result.get("cut_short"):
            by = self._aborted_by(lane, Path(str(result["run_dir"])).name)
            if by is not None:
                # The range master aborted it and the lane died before marking its folder
                # aborted: not recorded, as the abort said (the lane then forgets it).
                self.audit(
                    "lane:" + lane,
                    "course_not_recorded",
                    lane=lane,
                    run_dir=str(result["run_dir"]),
                    why=f"aborted by {by}",
                )
                print(
                    f"console: lane {lane}: {result['run_dir']}: aborted by {by}, cut short"
                    " by the lane stopping: not recorded",
                    flush=True,
                )
                return
        try:
            unbundle(result.pop("files", {}), folder)
            badge = str(result.get("badge") or "")
            if not badge:
                return
            with self.store() as store:
                # An attempt a killed lane process cut short (range/console/lane.py
                # `cut_short_result`) is recorded INCOMPLETE, with the lane as who closed it.
                cut = closed_entry("lane:" + lane, "cut short: the lane stopped")
                qid = record_attempt(
                    store.records,
                    badge,
                    folder,
                    dict(result["score"]),
                    incomplete=cut if result.get("cut_short") else None,
                    console_audit=store.audit_mark(),
                    started=result.get("started"),
                    finished=result.get("finished"),
                )
                store.audit(
                    str(result.get("started_by") or "lane:" + lane),
                    "course_recorded",
                    lane=lane,
                    qualification=qid,
                    badge=badge,
                    course=result.get("course"),
                )
        except Exception as exc:  # never out to the link: the lane would offer it forever
            self._refused(lane, result, folder, _why(exc))

    async def unrecorded(self, request: Request) -> Response:
        """A range master's answer to a run the records refused: `retry` (the lane offers it
        again, to be recorded or refused again) or `dismiss` (forgotten, unrecorded; its
        folder stays on the lane's disk). Audited with who did it."""
        user = self.require(request, CAN_ADMIN)
        form = await self.form(request)
        name = request.path_params["name"]
        action = str(form.get("answer", ""))
        run_dir = str(form.get("run_dir", ""))
        lane = self.hub.lanes.get(name)
        if action not in ("retry", "dismiss"):
            return Response("answer: retry or dismiss", 400)
        if lane is None or run_dir not in lane.unrecorded:
            return Response(f"lane {name} holds no unrecorded run {run_dir}", 404)
        if lane.socket is None:
            return Response(f"lane {name} is not connected", 409)
        self.audit(user.name, f"run_{action}", lane=name, run_dir=run_dir)
        if action == "dismiss":
            del lane.unrecorded[run_dir]
            self.keep_unrecorded(lane)
            snapshot = lane.snapshot()
            self.hub.broadcast(json.dumps(snapshot), snapshot)
        message = {"type": action, "run_dir": run_dir, "by": user.name}
        await lane.socket.send_text(json.dumps(message))
        if request.headers.get("x-requested-with") == "fetch":
            return Response("sent", 202)
        return RedirectResponse(f"/lanes/{name}", 303)

    async def live_socket(self, ws: WebSocket) -> None:
        """Browsers: the session cookie and the page's CSRF token, from this origin only."""
        try:
            user = self.user(ws)
        except RecordsError as exc:  # the store down (nu25 #5): one line, no traceback
            print(f"console: {ws.url.path}: {exc}", flush=True)
            await ws.close(1011)
            return
        origin = ws.headers.get("origin")
        host = ws.headers.get("host")
        if (
            user is None
            or user.role not in CAN_READ_ALL
            or not csrf_ok(ws.session.get("csrf"), ws.query_params.get("csrf"))
            or origin is None
            or urlparse(origin).netloc != host
        ):
            await ws.close(1008)
            return
        await ws.accept()
        feed = BrowserFeed()
        for lane in self.hub.lanes.values():
            snapshot = lane.snapshot()
            feed.put(json.dumps(snapshot), snapshot)
        self.hub.browsers.add(feed)

        async def drain() -> None:
            try:
                while True:
                    await ws.receive_text()
            except (WebSocketDisconnect, RuntimeError):
                pass

        reader = asyncio.create_task(drain())
        try:
            while not reader.done():
                getter = asyncio.ensure_future(feed.get())
                done, _ = await asyncio.wait({getter, reader}, return_when="FIRST_COMPLETED")
                if getter not in done:
                    getter.cancel()
                    break
                await ws.send_text(getter.result())
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            self.hub.browsers.discard(feed)
            reader.cancel()

    # -- records ---------------------------------------------------------------------------------

    async def roster(self, request: Request) -> Response:
        user = self.require(request, CAN_READ_ALL)
        with self.store() as store:
            lines = roster_page(store.records, datetime.now(UTC).date())
            runs = recent_runs(store.records)
        return self.page(request, "roster.html", user, roster=lines, runs=runs)

    def _may_read(self, user: User, badge: str) -> None:
        if user.role is Role.OFFICER and user.badge != badge:
            raise ForbiddenError

    async def officer(self, request: Request) -> Response:
        user = self.require(request)
        badge = request.path_params["badge"]
        self._may_read(user, badge)
        with self.store() as store:
            try:
                officer = store.records.officer(badge)
            except RecordsError as exc:
                return self.error(request, user, str(exc))
            sheets = [attempt_sheet(r) for r in store.records.qualifications(badge)]
            runs = recent_runs(store.records, badge)
        rows, left_out = await run_in_threadpool(self._with_records, trend, badge)
        return self.page(
            request,
            "officer.html",
            user,
            officer=officer,
            sheets=sheets,
            runs=runs,
            trend=rows,
            left_out=left_out,
        )

    def _run(self, user: User, run_id: int) -> dict[str, Any]:
        with self.store() as store:
            row = drill_run(store.records, run_id)
        self._may_read(user, row["badge"])
        return row

    async def _recorded(self, row: dict[str, Any]) -> RecordedCorrections | None:
        """The speech corrections the records chained for `row`'s run, read in a worker
        thread: the debrief checks the run's corrections file against them, and applies
        theirs where it differs (nu19 #4). Only the pages that show a debrief read them."""
        if not row["run_dir"]:
            return None
        # Its log hashed once: `drill_run` checked it (row["log_ok"], read by the callee).
        found: RecordedCorrections | None = await run_in_threadpool(
            self._with_records, chained_corrections, row
        )
        return found

    async def run_page(self, request: Request) -> Response:
        user = self.require(request)
        try:
            row = self._run(user, int(request.path_params["id"]))
        except RecordsError as exc:
            return self.error(request, user, str(exc))
        recorded = await self._recorded(row)
        try:
            data = await run_in_threadpool(debrief, Path(row["run_dir"]), True, recorded)
        except FOLDER_ERRORS as exc:
            return self.error(request, user, folder_problem(row, exc), 503)
        return self.page(
            request,
            "run.html",
            user,
            row=row,
            d=data,
            track=scrubber_json(data),
            can_control=user.role in CAN_CONTROL,
            acts=run_acts(Path(row["run_dir"])),
        )

    async def run_view(self, request: Request) -> Response:
        """A saved run at ?t= seconds from the officer's, the subject's or the top-down view."""
        user = self.require(request)
        try:
            row = self._run(user, int(request.path_params["id"]))
        except RecordsError as exc:
            return self.error(request, user, str(exc))
        given = request.query_params.get("t", "0")
        try:
            # Python's float takes "1_0" as 10: a time is written with digits and a point.
            t = float(given) if "_" not in given else math.nan
        except ValueError:
            t = math.nan
        if not math.isfinite(t) or t < 0:
            return self.error(request, user, f"t={given}: a time in seconds, 0 or more", 400)
        eye = request.query_params.get("eye", "officer")
        if eye not in EYES:  # a bad query: 400 (nu22 #6: it was 404)
            return self.error(request, user, f"eye={eye}: one of {', '.join(EYES)}", 400)
        if not row["run_dir"]:
            return self.error(request, user, f"run {row['id']} has no folder")
        try:
            state = await run_in_threadpool(run_state_at, Path(row["run_dir"]), t)
        except FOLDER_ERRORS as exc:
            return self.error(request, user, folder_problem(row, exc), 503)
        image = await asyncio.wrap_future(self.views.render(state, eye))
        return Response(image, media_type="image/png")

    async def run_video(self, request: Request) -> Response:
        """The run's after-action review as a WebM video from the officer's or the subject's
        eyes (?eye=), encoded on the first request and kept in the run's folder."""
        user = self.require(request)
        try:
            row = self._run(user, int(request.path_params["id"]))
        except RecordsError as exc:
            return self.error(request, user, str(exc))
        eye = request.query_params.get("eye", "officer")
        if eye not in VIDEO_EYES:  # a bad query: 400, as the views say it (nu22 #6)
            return self.error(request, user, f"eye={eye}: one of {', '.join(VIDEO_EYES)}", 400)
        if not row["run_dir"]:
            return Response("no such view", 404)
        path = review_video_path(Path(row["run_dir"]), eye)
        if not path.is_file():
            async with self.video_lock:  # one encoding at a time: it takes the CPU
                if not path.is_file():
                    try:
                        await run_in_threadpool(write_review_video, Path(row["run_dir"]), path, eye)
                    except (RenderUnavailableError, ReplayError, OSError) as exc:
                        return Response(f"no video: {exc}", 503)
        return FileResponse(path, media_type="video/webm")

    async def run_speech(self, request: Request) -> Response:
        """A line spoken as a subject in a saved run (speech/NN.wav in its folder)."""
        user = self.require(request)
        try:
            row = self._run(user, int(request.path_params["id"]))
        except RecordsError as exc:
            return self.error(request, user, str(exc))
        path = Path(row["run_dir"] or "") / SPEECH_DIR / f"{int(request.path_params['n']):02d}.wav"
        if not row["run_dir"] or not path.is_file():
            return Response("no such line", 404)
        return Response(path.read_bytes(), media_type="audio/wav")

    async def run_correct(self, request: Request) -> Response:
        """An instructor corrects the act of what the officer said (the n-th `officer_spoke`
        of a saved run, or the m-th act an instructor marked live): written to the run's
        corrections file as `openrange speech correct` writes it, audited with who did it; the
        debrief rescores with it."""
        user = self.require(request, CAN_CONTROL)
        form = await self.form(request)
        try:
            row = self._run(user, int(request.path_params["id"]))
        except RecordsError as exc:
            return self.error(request, user, str(exc))
        marked = "m" in form
        field, what = ("m", "mark") if marked else ("n", "utterance")
        try:
            n = int(str(form.get(field, "")))
        except ValueError:
            # Named as the debrief's row names it (the form's hidden field says which row).
            given = str(form.get(field, ""))
            label = "Mark" if marked else "Utterance"
            article = "a" if marked else "an"
            why = f"{label}: {given!r} is not {article} {what}'s number (the row's {field} field)"
            return self.error(request, user, why, 400)
        if not row["run_dir"]:
            return self.error(request, user, f"run {row['id']} has no folder")
        run_dir = Path(row["run_dir"])
        try:
            records = read_events(run_dir)
        except FOLDER_ERRORS as exc:
            return self.error(request, user, folder_problem(row, exc), 503)
        heards = marks(records) if marked else utterances(records)
        if not 1 <= n <= len(heards):
            return self.error(request, user, f"run {row['id']} has no {what} {n}")
        heard = heards[n - 1]
        act = str(form.get("act", ""))
        # The row's act named by its place, not by its decision time `t`: the acts of one
        # breath share one t, so a time picked another row's act or none (rc17 #1). The time
        # kept with the correction is inside the act's own words.
        start, end = span(heard)

        def amend(correction: Correction, kept: list[Correction]) -> None:
            # The run's record rescores too: a chained amendment, as `openrange speech
            # correct` makes, under the corrections file's lock (from what it keeps).
            # The amendment keeps the audit head it saw, chained, as the console's runs do.
            with self.store() as store:
                amend_records(store.records, run_dir, correction, store.audit_mark())

        try:
            correction, _, _ = await run_in_threadpool(
                correct_speech,
                run_dir,
                round((start + end) / 2, 4),
                act,
                user.name,
                str(form.get("reason", "")),
                str(heard.data["act"]),
                correct_field,
                marked,
                amend,
                n,
            )
        except ValueError as exc:  # CorrectionError: one line
            return self.error(request, user, str(exc), 400)
        self.audit(
            user.name,
            "speech_corrected",
            run=row["id"],
            utterance_t=heard.t,
            text=correction.text,
            was=correction.was,
            act=correction.act,
            **({"marked": True} if marked else {}),
        )
        return RedirectResponse(f"/runs/{row['id']}#officer-said", 303)

    async def run_said(self, request: Request) -> Response:
        """The kept audio of what the officer said in a saved run (the n-th utterance's clip)."""
        user = self.require(request)
        try:
            row = self._run(user, int(request.path_params["id"]))
        except RecordsError as exc:
            return self.error(request, user, str(exc))
        if not row["run_dir"]:
            return Response("no such line", 404)
        run_dir = Path(row["run_dir"])
        n = int(request.path_params["n"])
        try:
            records = read_events(run_dir)
            path = officer_clip(run_dir, records, n)
            # Only this utterance's stretch of the recording (nu17c #7: every row played the
            # whole recording from 0 s).
            body = None if path is None else clip_wav(path, officer_span(records, n))
        except FOLDER_ERRORS as exc:
            return self.error(request, user, folder_problem(row, exc), 503)
        except RuntimeError as exc:  # a kept recording soundfile cannot read (LibsndfileError)
            return self.error(request, user, f"{path}: not readable audio: {exc}", 503)
        if body is None:
            return Response("no such line", 404)
        return Response(body, media_type="audio/wav")

    async def compare(self, request: Request) -> Response:
        user = self.require(request)
        # Two run numbers, each digits only (Python's int also takes " 1" and "1_0"): anything
        # else is a bad query, 400 as docs/console.md says (nu22 #6: it was 200), naming the
        # side that is wrong; a number no run has is 404, from _run.
        for key in ("a", "b"):
            given = request.query_params.get(key)
            digits = (given or "").removeprefix("-")  # a negative is a number no run has: 404
            if given is None or not digits.isascii() or not digits.isdigit():
                what = (
                    f"{key} is missing" if given is None else f"{key}={given} is not a run's number"
                )
                return self.error(request, user, f"{what}: choose two runs (?a=ID&b=ID)", 400)
        try:
            rows = [self._run(user, int(request.query_params[k])) for k in ("a", "b")]
        except RecordsError as exc:
            return self.error(request, user, str(exc))
        # A side whose folder cannot be read is named, with why, beside the one that can;
        # only when neither can is there nothing to show (503).
        sides, unread = [], []
        for row in rows:
            recorded = await self._recorded(row)
            try:
                data = await run_in_threadpool(debrief, Path(row["run_dir"]), False, recorded)
            except FOLDER_ERRORS as exc:
                unread.append(folder_problem(row, exc))
                continue
            sides.append(
                {
                    "row": row,
                    "d": data,
                    "track": scrubber_json(data),
                }
            )
        if not sides:
            return self.error(request, user, "; ".join(unread), 503)
        labels = [str(r["drill_label"]) for r in rows]
        different = " and ".join(labels) if labels[0] != labels[1] else None
        return self.page(
            request, "compare.html", user, sides=sides, different=different, unread=unread
        )

    async def certificate(self, request: Request) -> Response:
        user = self.require(request)
        qid = int(request.path_params["id"])
        with self.store() as store:
            try:
                row = store.records.qualification(qid)
            except RecordsError as exc:
                return self.error(request, user, str(exc))
            self._may_read(user, row["badge"])
        # The one certificate writer, as `records export --format pdf --attempt` uses; a record
        # it refuses (DAMAGED: edited, or its detail no longer parses) is the CLI's one line on
        # a 409 page, never a 500 (rc20 #2).
        try:
            text = await run_in_threadpool(self._with_records, certificate_text, qid)
        except RecordsError as exc:
            return self.error(request, user, str(exc), 409)
        pdf = await run_in_threadpool(certificate_pdf_bytes, text)
        # Saved under what it is: a certificate, or an attempt record that is not one (not
        # qualified, incomplete, a scripted shooter's, a modified course's).
        name = f"certificate-{qid}.pdf" if text.certificate else f"attempt-record-{qid}.pdf"
        return Response(
            pdf,
            media_type="application/pdf",
            headers={"content-disposition": f"inline; filename={name}"},
        )

    # -- accounts --------------------------------------------------------------------------------

    async def users(self, request: Request) -> Response:
        user = self.require(request, CAN_ADMIN)
        error = None
        if request.method == "POST":
            form = await self.form(request)
            name = str(form.get("name", ""))
            badge = str(form.get("badge") or "") or None
            action = str(form.get("action") or "add")
            try:
                if action in ("add", "role"):
                    # A badge with another role than officer is refused by the store, as on
                    # the command line, naming the Badge field (never dropped without a word).
                    role = form_role(str(form.get("role", "")))
                if action == "add":
                    check_name(name)  # the name first, as the form asks for it first
                    if form.get("password") != form.get("again"):
                        raise ValueError("The passwords differ.")
                    hashed = await run_in_threadpool(hash_password, str(form.get("password", "")))
                    with self.store() as store:
                        store.add_user(name, role, hashed, badge, "a badge (the Badge field)")
                        store.audit(user.name, "account_created", account=name, role=role.value)
                elif action == "role":
                    with self.store() as store:
                        store.set_role(name, role, badge, "a badge (the Badge field)")
                        store.audit(
                            user.name, "account_role", account=name, role=role.value, badge=badge
                        )
                elif action in ("disable", "enable"):
                    if name == user.name:
                        raise ValueError("you cannot disable your own account")
                    with self.store() as store:
                        store.set_disabled(name, action == "disable")
                        store.audit(user.name, f"account_{action}d", account=name)
                else:
                    raise ValueError(f"action {action!r}: add, role, disable or enable")
            except (ValueError, RecordsError) as exc:
                error = str(exc)
        with self.store() as store:
            accounts = store.users()
        return self.page(
            request, "users.html", user, accounts=accounts, roles=list(Role), error=error
        )

    async def audit_page(self, request: Request) -> Response:
        user = self.require(request, CAN_ADMIN)
        with self.store() as store:
            rows = store.audit_rows()
            problems = store.verify_audit()
            upgraded = head_set_at_upgrade(store.records)
        return self.page(
            request, "audit.html", user, rows=rows, problems=problems, upgraded=upgraded
        )


# The replicas as the lane page names them (drills/schema.py `WEAPONS`).
WEAPON_NAMES = {"taser": "TASER", "firearm": "pistol"}


def _why(exc: BaseException) -> str:
    """Why a lane's finished run was not recorded, in one line: the records' refusal (an
    unknown badge, the store), a bad bundle, a folder that cannot be written; anything else is
    a bug, said so (its traceback goes to the console's log)."""
    if isinstance(exc, KeyError):
        return f"the run's result has no {exc.args[0] if exc.args else '?'!r}"
    if isinstance(exc, RecordsError | ValueError | OSError):
        return str(exc) or type(exc).__name__
    traceback.print_exception(exc)
    return f"internal error ({type(exc).__name__}: {exc}): a bug in OpenRange; please report it"


def _guard(
    console: Console, handler: Callable[[Request], Awaitable[Response]]
) -> Callable[[Request], Awaitable[Response]]:
    async def guarded(request: Request) -> Response:
        try:
            return await handler(request)
        except LoginNeededError:
            return RedirectResponse("/login", 303)
        except RecordsError as exc:
            return console.store_down(request, exc)
        except ForbiddenError:
            try:
                user = console.user(request)
            except RecordsError as exc:
                return console.store_down(request, exc)
            message = "Not yours to see."
            if SESSION_COOKIE not in request.cookies and cookie_dropped(
                request, console.secure_cookies
            ):
                message = COOKIE_OVER_HTTP  # the form's CSRF check failed for want of a cookie
            response = console.page(request, "error.html", user, message=message)
            response.status_code = 403
            return response

    return guarded


@asynccontextmanager
async def _closing(console: Console) -> AsyncIterator[None]:
    yield
    console.views.close()


def create_app(
    db_url: str | None,
    secure_cookies: bool = True,
    clock: Callable[[], float] = time.time,
    runs_dir: Path = Path("runs") / "console",
) -> Starlette:
    console = Console(db_url, secure_cookies, clock, runs_dir)

    def g(
        handler: Callable[[Request], Awaitable[Response]],
    ) -> Callable[[Request], Awaitable[Response]]:
        return _guard(console, handler)

    routes = [
        Route("/login", g(console.login), methods=["GET", "POST"]),
        Route("/logout", g(console.logout), methods=["POST"]),
        Route("/setup", g(console.setup), methods=["GET", "POST"]),
        Route("/", g(console.home)),
        Route("/lanes", lambda request: RedirectResponse("/", 303)),  # the Lanes page is /
        Route("/lanes/{name}", g(console.lane)),
        Route("/lanes/{name}/command", g(console.command), methods=["POST"]),
        Route("/lanes/{name}/unrecorded", g(console.unrecorded), methods=["POST"]),
        Route("/lanes/{name}/remove", g(console.remove_lane), methods=["POST"]),
        Route("/lanes/{name}/view.png", g(console.view)),
        Route("/lanes/{name}/phases.svg", g(console.phases)),
        Route("/records", g(console.roster)),
        Route("/officers/{badge}", g(console.officer)),
        Route("/runs/{id:int}", g(console.run_page)),
        Route("/runs/{id:int}/view.png", g(console.run_view)),
        Route("/runs/{id:int}/review.webm", g(console.run_video)),
        Route("/runs/{id:int}/speech/{n:int}.wav", g(console.run_speech)),
        Route("/runs/{id:int}/said/{n:int}.wav", g(console.run_said)),
        Route("/runs/{id:int}/correct", g(console.run_correct), methods=["POST"]),
        Route("/compare", g(console.compare)),
        Route("/certificates/{id:int}.pdf", g(console.certificate)),
        Route("/users", g(console.users), methods=["GET", "POST"]),
        Route("/audit", g(console.audit_page)),
        WebSocketRoute("/ws/lane", console.lane_socket),
        WebSocketRoute("/ws/live", console.live_socket),
        # Browsers ask for /favicon.ico on every page whatever the page links: the same icon.
        Route(
            "/favicon.ico",
            lambda request: FileResponse(HERE / "static" / FAVICON, media_type="image/svg+xml"),
        ),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lambda app: _closing(console),
        exception_handlers={404: console.not_found},
        middleware=[
            Middleware(SecurityHeaders),
            Middleware(
                SessionMiddleware,
                secret_key=console.session_key,
                session_cookie=SESSION_COOKIE,
                max_age=SESSION_MAX_AGE_S,
                same_site="strict",
                https_only=secure_cookies,
            ),
        ],
    )
    app.state.console = console
    return app


def serve(
    host: str,
    port: int,
    db_url: str | None,
    secure_cookies: bool = True,
    runs_dir: Path = Path("runs") / "console",
    sock: socket.socket | None = None,
) -> None:
    """Run the console until interrupted (one uvicorn server, access log off: URLs carry the
    WebSocket's CSRF token), on `sock` when it is given (bound already)."""
    import uvicorn

    app = create_app(db_url, secure_cookies, runs_dir=runs_dir)
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", access_log=False, ws="websockets-sansio"
    )
    uvicorn.Server(config).run(sockets=None if sock is None else [sock])
