"""`openrange peripherals ...`: find, watch, emulate and check replicas."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from range.cli import util as cliutil
from range.cli.util import help_when_bare
from range.deps import require

if TYPE_CHECKING:
    from peripherals.clock import Clock
    from peripherals.emulator import ReplicaEmulator

EPILOG = """\
examples:
  openrange peripherals emulate taser-7            start an emulated TASER 7, print its port
  openrange peripherals scan                       list every replica that answers
  openrange peripherals monitor /dev/ttyACM0       watch its events live (--json for scripts)
  openrange peripherals check /dev/ttyACM0         run the protocol conformance suite
"""

# An emulated clock may run from half to one and a half times the host's rate: far past any
# crystal (+-100 ppm) for fault drills and the conformance check, never stopped nor backwards.
MAX_EMULATED_DRIFT_PPM = 500_000.0
# `emulate --trigger-at`: a host that has sent nothing for this long is not attached (a live
# lane pings every 0.25 s: range/runs/lane.py SYNC_EVERY_S).
HOST_QUIET_S = 1.0
# `emulate` with a serial another running emulator registered: how long to wait for that one to
# power off (the docs' power cycle: Ctrl-C, then started again at once, while the old process
# is still closing) before refusing.
SERIAL_RELEASE_WAIT_S = 5.0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = sub.add_parser(
        "peripherals",
        help="find, watch, emulate and check replica TASERs and pistols",
        description=(
            "Replicas speak the open OpenRange protocol (docs/protocol.md) over USB serial. "
            "These commands find them, show what they send, emulate them with no hardware, and "
            "check that a replica (real or emulated) follows the protocol."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verbs = group.add_subparsers(title="peripherals commands", metavar="VERB")

    scan = verbs.add_parser(
        "scan",
        **cliutil.examples(
            "openrange peripherals scan",
            "openrange peripherals scan --port /dev/ttyUSB3 --json",
        ),
        help="list the replicas that answer",
        description="Handshake every candidate port (USB serial ports, /dev/serial/by-id, "
        "running emulators) and list the replicas that answer, with model, serial "
        "number and firmware.",
    )
    scan.add_argument(
        "--port",
        action="append",
        default=[],
        help="also try this port, a tty path or a pySerial URL (repeat; default: the candidate"
        " ports alone)",
    )
    scan.add_argument("--json", action="store_true", help="print the list as JSON")
    scan.set_defaults(handler=_scan)

    monitor = verbs.add_parser(
        "monitor",
        **cliutil.examples(
            "openrange peripherals monitor /dev/ttyACM0",
            "openrange peripherals monitor /dev/ttyACM0 --duration 30 --json",
        ),
        help="show a replica's events live",
        description="Open PORT, handshake, and print every event as it arrives, stamped in host "
        "time through clock sync. Line problems (CRC errors, lost frames, unknown "
        "messages) go to stderr; a replica that stalls or hangs (docs/protocol.md) ends it "
        "with status 1. Stop with Ctrl-C.",
    )
    monitor.add_argument("port", metavar="PORT", help="a tty path or a pySerial URL")
    monitor.add_argument("--json", action="store_true", help="one JSON object per event")
    monitor.add_argument(
        "--duration",
        type=cliutil.positive_float,
        default=None,
        metavar="SECONDS",
        help="stop after SECONDS (default: until Ctrl-C)",
    )
    monitor.set_defaults(handler=_monitor)

    emulate = verbs.add_parser(
        "emulate",
        help="run an emulated replica and print its port",
        description="Start an emulated replica behind a real pseudo-terminal and print its port "
        "path, so the whole stack can be tried with no hardware. The emulator "
        "registers itself where `scan` looks. Stop with Ctrl-C.",
        epilog="examples:\n"
        "  openrange peripherals emulate pistol --trigger-at 2 --trigger-at 3\n"
        "  openrange peripherals emulate taser-7 --noise 0.05 --drift-ppm 100\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    emulate.add_argument(
        "model",
        metavar="MODEL",
        help="taser-x26p, taser-x2, taser-7, taser-10, pistol or patrol-rifle",
    )
    emulate.add_argument(
        "--serial",
        default=None,
        type=cliutil.device_serial,
        help="serial number, 1 to 64 of A-Z a-z 0-9 . _ - (default: EMU-<model>)",
    )
    emulate.add_argument(
        "--trigger-at",
        type=cliutil.finite_nonneg_float,
        action="append",
        default=[],
        metavar="SECONDS",
        help="draw, arm and pull the trigger SECONDS after a host first attaches (opens a"
        " session: a drill, course or calibration run on this port), not after the emulator"
        " starts; repeat for more pulls. A pull with no host attached (none has spoken for"
        f" {HOST_QUIET_S:g} s) is said on stderr",
    )
    emulate.add_argument(
        "--noise",
        type=cliutil.probability,
        default=0.0,
        help="chance of noise per frame, 0 to 1 (default 0)",
    )
    emulate.add_argument(
        "--drop",
        type=cliutil.probability,
        default=0.0,
        help="chance of a lost byte per frame, 0 to 1 (default 0)",
    )
    emulate.add_argument(
        "--corrupt",
        type=cliutil.probability,
        default=0.0,
        help="chance of a bad CRC per frame, 0 to 1 (default 0)",
    )
    emulate.add_argument(
        "--drift-ppm",
        type=cliutil.float_within(-MAX_EMULATED_DRIFT_PPM, MAX_EMULATED_DRIFT_PPM, "ppm"),
        default=0.0,
        help="device clock drift, ppm: from -500000 (half speed) to 500000 (1.5x) (default 0)",
    )
    emulate.add_argument(
        "--offset-s",
        type=cliutil.finite_float,
        default=0.0,
        metavar="SECONDS",
        help="device clock offset, seconds (default 0)",
    )
    emulate.add_argument(
        "--duration",
        type=cliutil.positive_float,
        default=None,
        metavar="SECONDS",
        help="stop after SECONDS (default: until Ctrl-C)",
    )
    emulate.add_argument(
        "--unplug-at",
        type=cliutil.finite_nonneg_float,
        default=None,
        metavar="SECONDS",
        help="pull the emulated cable SECONDS after a host first attaches (opens a session:"
        " a drill, course or calibration run on this port), counted from the same moment as"
        " --trigger-at, not from the emulator's start; plug it back in after --replug-after:"
        " the same replica (its session kept) on a new port, taken back by a run that had it"
        " (Ctrl-C powers it off: started again, it is a new replica, refused by such a run)",
    )
    emulate.add_argument(
        "--replug-after",
        type=cliutil.positive_float,
        default=2.0,
        metavar="SECONDS",
        help="with --unplug-at: how long the cable stays out (default 2; a run faults a"
        " replica gone over 10 s)",
    )
    emulate.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="where to register the port (default: the user's runtime dir)",
    )
    emulate.set_defaults(handler=_emulate)

    check = verbs.add_parser(
        "check",
        **cliutil.examples(
            "openrange peripherals check /dev/ttyACM0",
            "openrange peripherals check /dev/ttyACM0 --ping-limit-ms 25 --json",
        ),
        help="run the protocol conformance suite on a replica",
        description="Check that the replica at PORT follows docs/protocol.md: handshake, "
        "capabilities, PING round trip, STATE rate, device clock, ACK and NACK, "
        "resynchronisation after garbage, a clean line. Leave the replica alone "
        "while it runs (about 3 s). Exit status 1 if any check fails.",
    )
    check.add_argument("port", metavar="PORT", help="a tty path or a pySerial URL")
    check.add_argument("--json", action="store_true", help="print the checks as JSON")
    check.add_argument(
        "--ping-limit-ms",
        type=cliutil.positive_float,
        default=None,
        metavar="MS",
        help="the PING round trip's p99 limit (default 10 ms, docs/protocol.md); "
        "raise it only to check the protocol itself on a busy computer",
    )
    check.set_defaults(handler=_check)

    help_when_bare(group)


def _scan(args: argparse.Namespace) -> int:
    require("serial")
    from peripherals.ports import candidate_ports, default_emulator_dir, scan
    from range.clock import MonotonicClock

    ports = sorted(set(candidate_ports([default_emulator_dir()]) + args.port))
    links = scan(MonotonicClock(), ports)
    rows = []
    for link in links:
        assert link.info is not None
        rows.append(
            {
                "port": link.url,
                "model": link.info.model.slug,
                "serial": link.info.serial,
                "firmware": link.info.firmware,
                "protocol_version": link.info.protocol_version,
            }
        )
        link.close()
    if args.json:
        print(json.dumps(rows, indent=2))
    elif not rows:
        print(f"no replica answered on {len(ports)} candidate port(s)")
    else:
        for row in rows:
            print(
                f"{row['model']:<11} serial {row['serial']:<18} firmware {row['firmware']:<24}"
                f" {row['port']}"
            )
    return 0


class _Stop(threading.Event):
    """Set by Ctrl-C, SIGTERM or the end of `--duration`; `cancel()` drops the timer when the
    command ends sooner (a failed replica), so no thread outlives it, and puts back the signal
    handlers it replaced (a process that goes on after the command, a test's or a caller's,
    gets its Ctrl-C back as KeyboardInterrupt)."""

    timer: threading.Timer | None = None
    replaced: list[tuple[signal.Signals, Any]]

    def cancel(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer.join()
        for signum, handler in self.replaced:
            signal.signal(signum, handler)
        self.replaced = []


def _stop_event(duration: float | None) -> _Stop:
    stop = _Stop()
    stop.replaced = [
        (signum, signal.signal(signum, lambda *_: stop.set()))
        for signum in (signal.SIGINT, signal.SIGTERM)
    ]
    if duration is not None:
        stop.timer = threading.Timer(duration, stop.set)
        stop.timer.daemon = True  # Ctrl-C must not wait for it
        stop.timer.start()
    return stop


def _monitor(args: argparse.Namespace) -> int:
    require("serial")
    from peripherals.driver import ReplicaLink
    from range.clock import MonotonicClock

    link = ReplicaLink(args.port, MonotonicClock())
    info = link.open()
    # Attached as a run is: an emulator's `--trigger-at` counts from a host's first session.
    link.start_session()
    print(f"{info.model.slug} serial {info.serial}, firmware {info.firmware}", file=sys.stderr)
    stop = _stop_event(args.duration)
    reported = 0
    try:
        while not stop.wait(0.02):
            link.ping(0.2)  # keeps clock sync fresh
            for event in link.poll():
                record: dict[str, Any] = event.as_record()
                if args.json:
                    print(json.dumps(record), flush=True)
                else:
                    print(
                        f"{event.host_time_s:12.6f} s  {event.kind.name.lower():<18} bay"
                        f" {event.bay} probe {event.probe} value {event.value}",
                        flush=True,
                    )
            problems = list(link.problems)
            for problem in problems[reported:]:
                print(f"openrange: {problem}", file=sys.stderr)
            reported = len(problems)
            if link.check_health() is not None:  # a failed port, or a stalled or hung replica
                print(f"openrange: {link.failure}", file=sys.stderr)
                return 1
    finally:
        stop.cancel()
        link.close()
        if link.stats.duplicate_events:
            print(
                f"openrange: {link.stats.duplicate_events} repeated event frame(s) dropped",
                file=sys.stderr,
            )
    return 0


def _emulate(args: argparse.Namespace) -> int:
    require("serial", "numpy")
    from peripherals.emulator import LineFaults, emulator_for
    from peripherals.messages import Model
    from peripherals.ports import CHOSEN_DIR_REMEDY, default_emulator_dir, private_dir
    from range.clock import MonotonicClock

    # A folder given with --dir is checked as the default one is, before anything starts.
    directory = (
        private_dir(args.dir, CHOSEN_DIR_REMEDY) if args.dir is not None else default_emulator_dir()
    )
    model = Model.from_slug(args.model)
    clock = MonotonicClock()
    emulator = emulator_for(
        model,
        args.serial or f"EMU-{model.slug}",
        clock,
        faults=LineFaults(args.noise, args.drop, args.corrupt),
        drift_ppm=args.drift_ppm,
        clock_offset_s=args.offset_s,
        directory=directory,
    )
    port = _plug_in(emulator, clock)
    emulator.run_free()
    print(port, flush=True)
    print(
        f"{model.slug} serial {emulator.serial} on {port}; Ctrl-C to power it off",
        file=sys.stderr,
    )
    stop = _stop_event(args.duration)
    if args.trigger_at:
        hands = threading.Thread(
            target=_pull_after_attach,
            args=(emulator, sorted(args.trigger_at), model is not Model.PISTOL, stop),
            name=f"hands-{emulator.serial}",
            daemon=True,
        )
        hands.start()
    cable: threading.Thread | None = None
    if args.unplug_at is not None:
        cable = threading.Thread(
            target=_cable_after_attach,
            args=(emulator, args.unplug_at, args.replug_after, stop),
            name=f"cable-{emulator.serial}",
            daemon=True,
        )
        cable.start()
    try:
        stop.wait()
    finally:
        stop.set()  # ends the scripted hands and cable, however the wait ended
        stop.cancel()
        if cable is not None:
            cable.join()
        if args.trigger_at:
            hands.join(timeout=1.0)
        emulator.stop()
    return 0


def _plug_in(emulator: ReplicaEmulator, clock: Clock) -> str:
    """Start the emulator; its serial held by another running emulator is waited for up to
    SERIAL_RELEASE_WAIT_S (a power cycle: the old one may still be closing), said in one line,
    then refused (SerialTakenError: that emulator's pid and port)."""
    from peripherals.registry import SerialTakenError

    deadline = clock.now_s() + SERIAL_RELEASE_WAIT_S
    said = False
    while True:
        try:
            return emulator.start()
        except SerialTakenError as exc:
            if clock.now_s() >= deadline:
                raise SerialTakenError(f"{exc} (waited {SERIAL_RELEASE_WAIT_S:g} s)") from exc
            if not said:
                print(
                    f"openrange: {exc}; waiting up to {SERIAL_RELEASE_WAIT_S:g} s for it to power"
                    " off",
                    file=sys.stderr,
                    flush=True,
                )
                said = True
            threading.Event().wait(0.1)


def _cable_after_attach(
    emulator: ReplicaEmulator, unplug_at: float, replug_after: float, stop: threading.Event
) -> None:
    """`--unplug-at`: once a host first opens a session on the port (as `--trigger-at` counts),
    pull the cable `unplug_at` seconds later and plug it back in `replug_after` after that."""
    while not emulator.session_opened.wait(0.05):
        if stop.is_set():
            return
    base = emulator.first_session_s
    assert base is not None  # set with session_opened
    from peripherals.errors import PeripheralError

    host = emulator.clock.host
    if stop.wait(max(0.0, base + unplug_at - host.now_s())):
        return
    emulator.unplug()
    print(f"{emulator.serial}: cable pulled", file=sys.stderr, flush=True)
    if stop.wait(replug_after):
        return
    try:
        again = emulator.replug()
    except PeripheralError as exc:  # its serial taken meanwhile by another emulator
        print(f"openrange: {emulator.serial}: not plugged back in: {exc}", file=sys.stderr)
        return
    print(again, flush=True)
    print(f"{emulator.serial}: plugged back in on {again}", file=sys.stderr, flush=True)


def _pull_after_attach(
    emulator: ReplicaEmulator, pulls: list[float], safety: bool, stop: threading.Event
) -> None:
    """`--trigger-at`: once a host first opens a session on the port, draw, arm and pull the
    trigger at each time counted from then (a run typed after the emulator started still gets
    its pull). A pull with no host attached then (nothing heard for HOST_QUIET_S: a live lane
    pings every 0.25 s) is said in one line: its event waits, unacknowledged, for a host."""
    while not emulator.session_opened.wait(0.05):
        if stop.is_set():
            return
    base = emulator.first_session_s
    assert base is not None  # set with session_opened
    for at in pulls:
        if safety:
            emulator.schedule(base + max(0.0, at - 0.2), "safety_off")
        emulator.schedule(base + max(0.0, at - 0.3), "draw")
        emulator.schedule(base + at, "press_trigger")
        emulator.schedule(base + at + 0.1, "release_trigger")
    host = emulator.clock.host
    for at in pulls:
        while host.now_s() < base + at:
            if stop.wait(min(0.05, max(0.0, base + at - host.now_s()))):
                return
        heard = emulator.last_heard_s
        if heard is None or host.now_s() - heard > HOST_QUIET_S:
            print(
                f"{emulator.serial}: trigger pulled (--trigger-at {at:g}) with no host attached"
                f" (none has spoken for over {HOST_QUIET_S:g} s): no run takes the shot",
                file=sys.stderr,
                flush=True,
            )


def _check(args: argparse.Namespace) -> int:
    require("serial")
    from peripherals.conformance import MAX_PING_P99_S, check_peripheral
    from range.clock import MonotonicClock

    limit_s = MAX_PING_P99_S if args.ping_limit_ms is None else args.ping_limit_ms / 1e3
    checks = check_peripheral(args.port, MonotonicClock(), max_ping_p99_s=limit_s)
    if args.json:
        print(
            json.dumps(
                [{"name": c.name, "passed": c.passed, "detail": c.detail} for c in checks], indent=2
            )
        )
    else:
        for c in checks:
            print(f"{'PASS' if c.passed else 'FAIL'}  {c.name:<30} {c.detail}")
    return 0 if all(c.passed for c in checks) else 1
