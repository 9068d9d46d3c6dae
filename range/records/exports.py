"""Exports of the records: CSV for spreadsheets, a roster for a POST compliance report (HTML or
PDF), and what a qualification certificate for one attempt says (its page, PDF or HTML, is
range/records/certificate.py)."""

from __future__ import annotations

import csv
import html
import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from range import outfile
from range.records.store import (
    DAMAGED,
    Records,
    RecordsError,
    StatusRow,
    attempt_folders,
    course_label,
    drill_label,
    held_points,
    kept_field_problem,
    outcome,
    stored_json,
)

if TYPE_CHECKING:
    from drills.course import Course

VALID_DAYS = 365  # how long a qualification stays valid (`records export --valid-days` default)

CSV_FIELDS = (
    "id",
    "badge",
    "name",
    "agency",
    "course",
    "finished",
    "points",
    "max_points",
    "hits",
    "outcome",
    "hash",
    "course_sha256",
)


# A cell a spreadsheet would run as a formula starts with one of these (OWASP "CSV injection"):
# such a cell is written with a leading ' so it reads as text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """A CSV cell that no spreadsheet runs as a formula: text starting with = + - @ or a tab
    or carriage return gets a leading ' (numbers, negative ones included, are kept as they
    are: they are data, not text someone typed)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


class _SafeWriter:
    """csv.writer whose every cell goes through `safe_cell` (every CSV the records export)."""

    def __init__(self, out: io.StringIO) -> None:
        self._writer = csv.writer(out)

    def writerow(self, row: list[Any] | tuple[Any, ...]) -> None:
        self._writer.writerow([safe_cell(v) for v in row])


def export_csv(records: Records, since: str | None, until: str | None) -> str:
    officers = {o["badge"]: o for o in records.officers()}
    out = io.StringIO()
    writer = _SafeWriter(out)
    writer.writerow(CSV_FIELDS)
    for row in records.qualifications(since=since, until=until):
        officer = officers.get(row["badge"], {})
        said = outcome(row)
        held = held_points(row, said)  # empty for a DAMAGED record
        writer.writerow(
            [
                row["id"],
                row["badge"],
                officer.get("name", ""),
                officer.get("agency", ""),
                course_label(row),
                row["finished"],
                "" if held["points"] is None else held["points"],
                row["max_points"],
                "" if held["hits"] is None else held["hits"],
                said,
                row["hash"],
                row["course_sha256"],
            ]
        )
    return out.getvalue()


DRILL_CSV_FIELDS = (
    "id",
    "badge",
    "name",
    "agency",
    "drill",
    "recorded",
    "seed",
    "decision",
    "score",
    "outcome",
    "officer",
    "officer_kind",
    "corrected_by",
    "drill_sha256",
    "drill_origin",
    "uncalibrated",
    "weapons_left_out",
    "policy",  # last, so the columns before it keep their places (rc25 #4)
)


def export_drill_runs_csv(records: Records, since: str | None, until: str | None) -> str:
    """Every drill run as CSV; `drill` is its label (an edited copy of a built-in drill reads
    `phone-draw-v1 (modified, sha256 1a2b3c4d5e6f)`), with the file's hash and origin; who
    played it (`officer`: the officer script's id, or live; `officer_kind`: scripted or live:
    a scripted run's outcome reads SIMULATED), who corrected its score, if anyone, and each
    device it used without a valid calibration on a range master's override (`uncalibrated`),
    and each issued weapon the range master left out (`weapons_left_out`, `--without`), and the
    policy that judged it (`policy`, as `records show` names it after "judged by policy")."""
    officers = {o["badge"]: o for o in records.officers()}
    out = io.StringIO()
    writer = _SafeWriter(out)
    writer.writerow(DRILL_CSV_FIELDS)
    for row in records.all_drill_runs(since, until):
        officer = officers.get(row["badge"], {})
        shown = row | {
            "name": officer.get("name", ""),
            "agency": officer.get("agency", ""),
            "drill": drill_label(row),
            "corrected_by": "; ".join(c["by"] for c in row["corrected"]),
            # Each device used uncalibrated on a range master's override ("" for none).
            "uncalibrated": "; ".join(row["uncalibrated"]),
            # The issued weapons it was played without (--without; "" for none), as `records
            # show` and `score` say them.
            "weapons_left_out": "; ".join(row["weapons_left_out"]),
        }
        writer.writerow([shown[k] for k in DRILL_CSV_FIELDS])
    return out.getvalue()


# A course an officer has fired only with a scripted shooter (a simulation: no standing).
SIMULATED_ONLY = "simulated only"


@dataclass(frozen=True, slots=True)
class RosterLine:
    """One officer on one course (or with no attempts at all: `course` is "")."""

    badge: str
    name: str
    agency: str
    course: str
    weapons: str  # what the course fires: "pistol", "taser", "pistol+taser" ("" if unknown)
    # qualified | expires soon | expired | not qualified | simulated only | no attempts
    status: str
    last_pass: str | None
    expires: str | None
    attempts: int = 0
    warning: str = ""  # an upcoming (or past) expiry, said in words


def _weapons(course: str) -> str:
    """What a course fires, from its definition (built-in id); "" when it cannot be found."""
    try:
        from drills.course import find_course

        found = find_course(course)
    except (KeyError, ValueError, OSError):  # a course since removed still has its records
        return ""
    return "+".join(sorted({s.weapon for stage in found.stages for s in stage.strings}))


def _kept_weapons(records: Records, badge: str, course: str) -> str:
    """What an agency's own course (a file, not a built-in id) fires, from the copy kept in an
    attempt's run folder (`sheet_course`, checked against the recorded sha256): its passes
    count for that weapon as a built-in course's do. "" when no copy is to be found."""
    for row in records.qualifications(badge):
        if row["course"] != course:
            continue
        found = sheet_course(row)
        if found is not None:
            return "+".join(sorted({s.weapon for stage in found.stages for s in stage.strings}))
    return ""


def roster(
    records: Records,
    as_of: date,
    valid_days: int,
    warn_days: int = 30,
    badge: str | None = None,
) -> list[RosterLine]:
    """Each officer's status per course: a pass on one course never qualifies them on another
    (an officer who passed the pistol course and failed every TASER attempt is not qualified for
    the TASER). A qualification within `warn_days` of its expiry is flagged. One grouped query
    (indexed), not one per officer. With `badge`, that officer alone. As of `as_of`: the
    standing as it was on that day (records finished after it left out, expiry counted
    against it)."""
    standing: dict[str, list[StatusRow]] = {}
    for row in records.standing(badge, until=as_of.isoformat()):
        standing.setdefault(row.badge, []).append(row)
    # A course fired only by a scripted shooter is "simulated only", as the console's roster
    # says it (nu22 #9): never a standing (not even "not qualified"), but not "no attempts".
    simulated: dict[str, list[str]] = {}
    for who, course in sorted(records.simulated_courses(badge, until=as_of.isoformat())):
        if all(row.course != course for row in standing.get(who, [])):
            simulated.setdefault(who, []).append(course)
    weapons: dict[str, str] = {}
    lines = []
    officers = records.officers() if badge is None else [records.officer(badge)]
    for officer in officers:
        rows = standing.get(officer["badge"], [])
        mine = [
            RosterLine(
                officer["badge"],
                officer["name"],
                officer["agency"],
                course,
                "",
                SIMULATED_ONLY,
                None,
                None,
            )
            for course in simulated.get(officer["badge"], [])
        ]
        for row in rows:
            if not weapons.get(row.course):
                weapons[row.course] = _weapons(row.course) or _kept_weapons(
                    records, officer["badge"], row.course
                )
            mine.append(_line(officer, row, weapons[row.course], as_of, valid_days, warn_days))
        if not mine:
            mine.append(
                RosterLine(
                    officer["badge"],
                    officer["name"],
                    officer["agency"],
                    "",
                    "",
                    "no attempts",
                    None,
                    None,
                )
            )
        lines += sorted(mine, key=lambda line: line.course)  # by course, as standing is
    return lines


def by_weapon(lines: list[RosterLine]) -> list[RosterLine]:
    """Per officer and weapon: the standing of the course firing that weapon whose
    qualification runs longest (any course firing it; a course firing two weapons counts for
    both). `course` names that course; an officer with no valid pass on any is "not qualified"
    or "expired" for that weapon."""
    rank = {"qualified": 3, "expires soon": 2, "expired": 1, "not qualified": 0}
    best: dict[tuple[str, str], RosterLine] = {}
    for line in lines:
        for weapon in filter(None, line.weapons.split("+")):
            key = (line.badge, weapon)
            held = best.get(key)
            mine = (rank.get(line.status, 0), line.expires or "")
            if held is None or mine > (rank.get(held.status, 0), held.expires or ""):
                best[key] = line
    return [
        RosterLine(
            line.badge,
            line.name,
            line.agency,
            line.course,
            weapon,
            line.status,
            line.last_pass,
            line.expires,
            line.attempts,
            line.warning,
        )
        for (_, weapon), line in sorted(best.items())
    ]


def _line(
    officer: dict[str, Any],
    row: StatusRow,
    weapons: str,
    as_of: date,
    valid_days: int,
    warn_days: int,
) -> RosterLine:
    badge, name, agency = officer["badge"], officer["name"], officer["agency"]
    if row.damaged:
        return RosterLine(
            badge,
            name,
            agency,
            row.course,
            weapons,
            DAMAGED,
            None,
            None,
            row.attempts,
            "the record of the last pass was edited: run records verify",
        )
    if row.last_pass is None:
        return RosterLine(
            badge, name, agency, row.course, weapons, "not qualified", None, None, row.attempts
        )
    last = datetime.fromisoformat(row.last_pass).date()
    expires = last + timedelta(days=valid_days)
    left = (expires - as_of).days
    if left < 0:
        status, warning = "expired", f"expired {-left} days ago"
    elif left <= warn_days:
        status, warning = "expires soon", f"expires in {left} days"
    else:
        status, warning = "qualified", ""
    return RosterLine(
        badge,
        name,
        agency,
        row.course,
        weapons,
        status,
        last.isoformat(),
        expires.isoformat(),
        row.attempts,
        warning,
    )


_STYLE = """body{font-family:sans-serif;margin:2em;color:#111}table{border-collapse:collapse}
td,th{border:1px solid #999;padding:4px 10px;text-align:left}.qualified{color:#060}
.expired,.not{color:#a00}.expires,.warn{color:#a60}.hash{font-family:monospace;font-size:80%}"""


def roster_html(lines: list[RosterLine], as_of: date, valid_days: int) -> str:
    # A damaged record is no expiry: it is listed under a heading of its own.
    damaged = [line for line in lines if line.warning and line.status == DAMAGED]
    warnings = [line for line in lines if line.warning and line.status != DAMAGED]
    rows = "".join(
        f"<tr><td>{html.escape(line.badge)}</td><td>{html.escape(line.name)}</td>"
        f"<td>{html.escape(line.agency)}</td><td>{html.escape(line.course or '-')}</td>"
        f"<td>{html.escape(line.weapons or '-')}</td><td class='{line.status.split()[0]}'>"
        f"{line.status}</td><td>{line.last_pass or '-'}</td><td>{line.expires or '-'}</td>"
        f"<td class='warn'>{html.escape(line.warning)}</td></tr>"
        for line in lines
    )
    notice = "".join(
        f"<p class='warn'><b>{heading}:</b> "
        + "; ".join(html.escape(f"{w.name} ({w.badge}), {w.course}: {w.warning}") for w in listed)
        + "</p>"
        for heading, listed in (
            ("Damaged records (edited? run records verify)", damaged),
            ("Expiring or expired", warnings),
        )
        if listed
    )
    return (
        f"<!doctype html><meta charset='utf-8'><title>Qualification roster</title>"
        f"<style>{_STYLE}</style><h1>Qualification roster</h1>"
        f"<p>As of {as_of.isoformat()}; a qualification is valid {valid_days} days, per course."
        f"</p>{notice}"
        "<table><tr><th>Badge</th><th>Name</th><th>Agency</th><th>Course</th><th>Weapon</th>"
        "<th>Status</th><th>Last qualified</th><th>Expires</th><th>Warning</th></tr>"
        f"{rows}</table>\n"
    )


@dataclass(frozen=True, slots=True)
class SheetLine:
    """One shot or cartridge of a record, as it counted: `stage` and `string` from 1."""

    kind: str
    stage: int
    string: int
    t_s: float | None
    where: str
    # What it added to the recorded score (0 for a late, void or reshot one); None for a
    # record that kept no points per hit whose course can no longer be found to judge them.
    points: int | None
    note: str


# The key under which each round and cartridge of a qualification's detail keeps what it counted
# (`{"points", "note", "where"}`), written when the attempt joins the chain (`keep_counted`), so
# its sheet adds up from the records alone once its run folders are gone.
COUNTED = "counted"
NOT_KEPT = (
    "points per hit not kept: this record predates them and the course it fired is not to be"
    " found (its run folders are gone)"
)


def sheet_course(row: dict[str, Any]) -> Course | None:
    """The course a qualification record was fired against, to judge its sheet with: the
    built-in course when the record says it fired that (or predates course hashes), else the
    copy kept in the attempt's run folder (any part's, `course.toml`), checked against the
    SHA-256 the record holds. None when neither is to be found (the folders moved or gone)."""
    from drills.course import find_course
    from range.runs.saved import saved_course

    if row.get("course_origin") in (None, "", "builtin"):
        try:
            return find_course(str(row["course"]))
        except (KeyError, ValueError, OSError):
            pass  # a course of its own id, recorded before records kept course hashes
    digest = row.get("course_sha256")
    if not digest:
        return None
    for folder in attempt_folders(stored_json(row, "detail").get("shots", [])):
        started = {"course": row["course"], "course_sha256": digest}
        try:
            return saved_course(Path(folder), started)
        except (KeyError, ValueError, OSError):
            continue  # this part's folder is gone or its copy altered: try the next
    return None


def _fired(detail: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    """The rounds and cartridges of a record's detail, with their positions in it."""
    return [
        (pos, rec)
        for pos, rec in enumerate(detail.get("shots", []))
        if isinstance(rec, dict) and rec.get("kind") in ("shot", "deployment")
    ]


def counted_points(detail: dict[str, Any], course: Course) -> dict[int, tuple[int, str, str]]:
    """What each round and cartridge of a record's detail counted, by its position: (points,
    note, where). Counted by the scorer's own judge (scoring.course.count_fired: late shots as
    the course says, rounds beyond a string's count nothing); strings reshot after a cut (a
    device fault, the headset taken off, a crash: the note says which) count nothing."""
    from physics.targets import TARGETS
    from scoring.course import Counted, Deployment, Shot, count_fired, judge_fired

    entries = list(enumerate(detail["shots"]))
    reshot: dict[tuple[int, int], int] = {}  # string -> position of its last fault
    cut_by: dict[tuple[int, int], str] = {}  # string -> what cut it (its record's reason)
    for pos, rec in entries:
        if rec.get("kind") == "string_faulted":
            reshot[(rec["stage"], rec["string"])] = pos
            if rec.get("reason"):
                cut_by[(rec["stage"], rec["string"])] = str(rec["reason"])
    pending = {tuple(k) for k in detail.get("score", {}).get("reshoot", [])}
    notes: dict[int, tuple[int, str, str]] = {}
    judged: list[Shot | Deployment] = []
    for pos, rec in _fired(detail):
        key = (rec["stage"], rec["string"])
        if key not in pending and key in reshot and pos < reshot[key]:
            why = cut_by.get(key)
            note = f"string cut: {why}; reshot" if why else "string cut by a device fault: reshot"
            notes[pos] = (0, note, _where(rec))
        else:
            judged.append(judge_fired(course, TARGETS[course.target], str(rec["kind"]), rec, pos))
    shots = [f for f in judged if isinstance(f, Shot)]
    deployments = [f for f in judged if isinstance(f, Deployment)]
    faulted = [(int(k[0]), int(k[1])) for k in pending]
    counted: list[Counted] = count_fired(course, shots, deployments, faulted)
    for c in counted:
        rec = detail["shots"][c.fired.record]
        where = c.fired.zone if isinstance(c.fired, Shot) else ""  # a shot's zone judged again
        notes[c.fired.record] = (c.points, c.note, where or _where(rec))
    return notes


def _where(rec: dict[str, Any]) -> str:
    return str(rec.get("zone") or ("effective" if rec.get("effective") else "not effective"))


def keep_counted(detail: dict[str, Any], course: Course | None) -> None:
    """Write into each round and cartridge of a finishing record's detail what it counted
    (`COUNTED`), judged against the course it fired, so that its sheet adds up from the
    records alone. Nothing is kept when the course is not known (a file course fired with
    --no-save) or a record cannot be judged (kept as it was fired: the sheet says so)."""
    if course is None:
        return
    try:
        counted = counted_points(detail, course)
    except (KeyError, TypeError, ValueError):
        return
    for pos, (points, note, where) in counted.items():
        detail["shots"][pos] = {
            **detail["shots"][pos],
            COUNTED: {"points": points, "note": note, "where": where},
        }


def score_sheet(row: dict[str, Any]) -> tuple[list[SheetLine], int | None]:
    """Every shot of a qualification record with the points it counted, so the sheet adds up
    to the recorded score: what the record kept for each (`COUNTED`, written when it was
    recorded), else as `counted_points` judges it against the course the attempt fired
    (`sheet_course`). Returns the lines and their total; None when the record kept no points
    per hit and the course cannot be found (each line's points None: `NOT_KEPT`)."""
    detail = stored_json(row, "detail")
    fired = _fired(detail)
    _check_fired(row, fired, None)
    counts: dict[int, tuple[int, str, str]] | None
    if fired and all(isinstance(rec.get(COUNTED), dict) for _, rec in fired):
        counts = {
            pos: (
                int(rec[COUNTED]["points"]),
                str(rec[COUNTED].get("note", "")),
                str(rec[COUNTED].get("where") or _where(rec)),
            )
            for pos, rec in fired
        }
    else:
        course = sheet_course(row)
        _check_fired(row, fired, course)
        try:
            counts = None if course is None else counted_points(detail, course)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise RecordsError(
                f"record {row.get('id')}: a shot it keeps cannot be counted ({exc!r}): damaged;"
                " no score sheet can be drawn from it: run records verify"
            ) from None
    lines = []
    for pos, rec in fired:
        points, note, where = (None, "", _where(rec)) if counts is None else counts[pos]
        lines.append(
            SheetLine(
                rec["kind"],
                rec["stage"] + 1,
                rec["string"] + 1,
                rec.get("t_s"),
                where,
                points,
                note,
            )
        )
    total = None if counts is None else sum(line.points or 0 for line in lines)
    return lines, total


def _check_fired(
    row: dict[str, Any], fired: list[tuple[int, dict[str, Any]]], course: Course | None
) -> None:
    """RecordsError naming the record, the shot and the field when a round or cartridge it
    keeps lacks or mistypes a field, or (with `course`) names a stage or string the course does
    not have: a record sealed so (before in-progress rows were checked field by field) has no
    sheet to draw, and `records show` says why in one line instead of failing."""
    for pos, rec in fired:
        wrong = kept_field_problem({k: v for k, v in rec.items() if k != COUNTED}, course)
        if wrong is not None:
            raise RecordsError(
                f"record {row.get('id')}: shot {pos + 1} ({rec.get('kind')}): {wrong}: damaged"
                " (its in-progress row was edited before it was sealed); no score sheet can be"
                " drawn from it: run records verify"
            )


def stage_label(number: int, name: str) -> str:
    """A stage as a range master sees it: numbered from 1 (names that already start with their
    number, "1: 3 yd", are left as they are)."""
    return name if name.startswith(f"{number}:") else f"{number}: {name}"


def certificate_fields(records: Records, qualification: int) -> dict[str, Any]:
    """What a certificate (QUALIFIED) or an attempt record (NOT QUALIFIED, INCOMPLETE) shows;
    `title` says which: a failed or unfinished attempt is never titled a certificate."""
    row = records.qualification(qualification)
    stored_json(row, "detail")  # a detail that no longer parses is named first
    wrong = records.check_record(row)
    if wrong is not None:
        raise RecordsError(
            f"{wrong}; no certificate or attempt record is issued: run records verify"
        )
    officer = records.officer(row["badge"])
    detail = stored_json(row, "detail")
    result = outcome(row)
    stages = detail["score"].get("stages", [])
    modified = row["course_origin"] == "modified"
    if result == "QUALIFIED" and not modified:
        title = "Qualification certificate"
    elif modified:
        title = (
            f"Attempt record on a modified course: {result} (not a certificate; the course"
            f" differs from the built-in {row['course']})"
        )
    else:
        title = f"Qualification attempt record: {result} (not a certificate)"
    return {
        "title": title,
        "record": row["id"],
        "officer": officer["name"],
        "badge": row["badge"],
        "agency": officer["agency"],
        "course": course_label(row),
        "course_sha256": row["course_sha256"],
        "date": row["finished"],
        "result": result,
        "score": f"{row['points']} of {row['max_points']} points, {row['hits']} hits",
        "stages": [
            (stage_label(n, s["name"]), s["points"], s["hits"]) for n, s in enumerate(stages, 1)
        ],
        "hash": row["hash"],
        "prev_hash": row["prev_hash"],
    }


def write_pdf(path: Path, title: str, lines: list[str]) -> None:
    """A listing (the roster) as plain A4 pages of text, drawn with matplotlib's PDF backend.
    A certificate is not a listing: range/records/certificate.py lays it out."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    per_page = 48
    from matplotlib.backends.backend_pdf import PdfPages

    # Drawn in memory, then written whole or not at all: a full disk names the file and
    # leaves no partial PDF (nor a file matplotlib still holds open).
    buffer = io.BytesIO()
    with PdfPages(buffer) as pdf:
        for start in range(0, max(len(lines), 1), per_page):
            fig = plt.figure(figsize=(8.27, 11.69))
            fig.text(0.08, 0.95, title, fontsize=16, weight="bold")
            for k, line in enumerate(lines[start : start + per_page]):
                fig.text(0.08, 0.91 - k * 0.018, line, fontsize=9, family="monospace")
            try:
                pdf.savefig(fig)
            finally:
                plt.close(fig)
    outfile.write_bytes(path, buffer.getvalue())
