"""nu24 (f24a): agency policy files: unknown cartridges and acts refused (#1), the policy applied
at run time (#2), a file from a newer OpenRange (#13), contradictory rows (#14)."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from drills.course import Course, ShooterFile
from drills.officer import OfficerScript
from drills.schema import Drill, find_drill
from drills.speech import PhraseBook
from physics.datafiles import DataFileError, StrictModel, parse_model
from range.cli.main import main
from range.runs.drill import RunConfig
from range.runs.policyfile import POLICY_ENV, policy_in_effect, saved_policy
from scoring.policy import Policy, load_policy

DEFAULT = Path(__file__).resolve().parents[1] / "scoring" / "data" / "policy-default.toml"


def policy_file(tmp_path: Path, old: str, new: str, name: str = "p.toml") -> Path:
    text = DEFAULT.read_text()
    assert old in text
    path = tmp_path / name
    path.write_text(text.replace(old, new, 1))
    return path


def line_of(path: Path, needle: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def test_unknown_cartridge_in_cartridge_range_ft_is_refused(tmp_path: Path) -> None:
    # nu24 #1: "taser7-qc" was a missing row: CEW-08 stopped judging the CQ cartridge unsaid.
    path = policy_file(tmp_path, '"taser7-cq" = [0.0, 16.0]', '"taser7-qc" = [0.0, 16.0]')
    with pytest.raises(DataFileError) as caught:
        load_policy(path)
    line = line_of(path, "taser7-qc")
    assert str(caught.value) == (
        f"{path}:{line}: settings[9].ranges_ft.taser7-qc: cartridge_range_ft: 'taser7-qc' is not"
        " a known cartridge (known: taser10, taser7-cq, taser7-standoff, x2-25ft, x26p-21ft,"
        " x26p-25ft)"
    )


def test_unknown_act_in_conflicting_commands_is_refused(tmp_path: Path) -> None:
    # nu24 #1: "command.get_dwn" is never heard, so VERBAL-04 never judged the pair.
    path = policy_file(
        tmp_path, '"command.get_down|command.stop"', '"command.get_down|command.get_dwn"'
    )
    with pytest.raises(DataFileError) as caught:
        load_policy(path)
    line = line_of(path, "command.get_dwn")
    assert str(caught.value) == (
        f"{path}:{line}: settings[16].words[0]: conflicting_commands: 'command.get_dwn' in"
        " 'command.get_down|command.get_dwn' is not a command act of the built-in phrase book"
        " (known: command.drop_weapon, command.get_down, command.show_hands, command.step_back,"
        " command.stop)"
    )


# -- nu24 #2: the agency policy applies at run time ------------------------------------------

DATA = Path(__file__).resolve().parent / "data" / "nu24a"
DRILL = DATA / "metro-cew-edge-v1.toml"  # an impaired man: the agency restricts the CEW
OFFICER = DATA / "metro-cew-edge-officer-v1.toml"  # warns, then fires the TASER at 16 ft


def agency_policy(folder: Path) -> Path:
    """nu24's metro-pd-v1: the default policy, with `impaired` among the CEW's restricted."""
    text = DEFAULT.read_text()
    text = text.replace('id = "default-continuum-v1"', 'id = "metro-pd-v1"', 1)
    old = '"position=vehicle", "near_flammables"]'
    assert old in text
    path = folder / "metro-policy.toml"
    path.write_text(text.replace(old, '"position=vehicle", "near_flammables", "impaired"]', 1))
    return path


@dataclass(frozen=True)
class AgencyRun:
    run_dir: Path
    policy: Path
    url: str
    out: str


@pytest.fixture(scope="module")
def agency_run(tmp_path_factory: pytest.TempPathFactory) -> AgencyRun:
    from range.records.store import Records

    folder = tmp_path_factory.mktemp("agency")
    policy = agency_policy(folder)
    url = f"sqlite:///{folder / 'records.sqlite'}"
    with Records.open(url) as records:
        records.add_officer("7001", "A. Coordinator", "Metro PD")
    runs = folder / "runs"
    argv = ["drill", "run", str(DRILL), "--sim", str(OFFICER), "--seed", "2"]
    argv += ["--policy", str(policy), "--badge", "7001", "--db", url, "--runs-dir", str(runs)]
    argv += ["--progress", "never"]
    with pytest.MonkeyPatch.context() as patch:
        out = io.StringIO()
        patch.setattr(sys, "stdout", out)
        main(argv)
    (run_dir,) = runs.iterdir()
    return AgencyRun(run_dir, policy, url, out.getvalue())


def test_drill_run_policy_judges_the_run_and_keeps_the_file(agency_run: AgencyRun) -> None:
    digest = hashlib.sha256(agency_run.policy.read_bytes()).hexdigest()
    label = f"metro-pd-v1 (file {agency_run.policy}, sha256 {digest[:12]})"
    assert "FAIL  (CEW-05 overrides the score" in agency_run.out
    assert f"policy {label})" in agency_run.out
    assert (agency_run.run_dir / "policy.toml").read_bytes() == agency_run.policy.read_bytes()
    started = json.loads((agency_run.run_dir / "events.jsonl").read_text().splitlines()[0])
    assert started["policy"] == "metro-pd-v1"
    assert started["policy_sha256"] == digest
    assert started["policy_source"] == str(agency_run.policy)
    result = json.loads((agency_run.run_dir / "result.json").read_text())
    assert result["score"]["policy"] == label


def test_score_judges_a_run_by_its_own_policy_and_says_a_rescore(
    agency_run: AgencyRun, capsys: pytest.CaptureFixture[str]
) -> None:
    run = str(agency_run.run_dir)
    main(["score", run])
    out = capsys.readouterr().out
    assert "FAIL  (CEW-05 overrides the score" in out
    assert "policy metro-pd-v1 (file " in out
    main(["score", run, "--policy", str(DEFAULT)])
    out = capsys.readouterr().out
    assert "Policy: default-continuum-v1\n" in out
    assert f"  rescored: {run} was judged by metro-pd-v1 (file " in out
    assert "PASS  (policy default-continuum-v1)" in out
    main(["score", run, "--policy", str(DEFAULT), "--json"])
    said = json.loads(capsys.readouterr().out)
    assert said["policy"] == "default-continuum-v1"
    assert said["judged_by"].startswith("metro-pd-v1 (file ")


def test_the_records_name_the_policy_that_judged_the_run(
    agency_run: AgencyRun, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["records", "show", "--drill-run", "1", "--db", agency_run.url]) == 0
    out = capsys.readouterr().out
    assert "): FAIL: critical failure: TASER on a restricted subject; score 50" in out
    assert f"  judged by policy metro-pd-v1 (file {agency_run.policy}, sha256 " in out


def test_the_drill_run_csv_and_history_name_the_policy_last(
    agency_run: AgencyRun, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """rc25 #4: the CSV (a roster's or an audit's form) named no policy, so a run judged by the
    agency's policy and one judged by the built-in one looked alike. `policy` comes last, so
    the columns before it keep their places."""
    import csv

    label = f"metro-pd-v1 (file {agency_run.policy}, sha256 "
    out = tmp_path / "runs.csv"
    export = ["records", "export", "--format", "csv", "--drill-runs", "--db", agency_run.url]
    assert main([*export, "--out", str(out)]) == 0
    header, row = list(csv.reader(out.open(encoding="utf-8")))
    assert header[-2:] == ["weapons_left_out", "policy"]
    assert row[-1].startswith(label)
    assert main(["records", "history", "7001", "--db", agency_run.url, "--json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)["drill_runs"]
    assert listed["policy"].startswith(label)


def test_a_kept_policy_changed_after_the_run_is_refused(
    agency_run: AgencyRun, tmp_path: Path
) -> None:
    copy = tmp_path / "run"
    shutil.copytree(agency_run.run_dir, copy)
    kept = copy / "policy.toml"
    kept.write_text(kept.read_text().replace('"impaired"]', "]"))
    with pytest.raises(ValueError, match=r"policy\.toml does not match the SHA-256 the run"):
        saved_policy(copy, json.loads((copy / "events.jsonl").read_text().splitlines()[0]))


def test_a_rescore_by_another_policy_does_not_need_the_kept_copy(
    agency_run: AgencyRun, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # rc25 #5: `score RUN --policy OTHER` was refused for a kept policy.toml edited or gone,
    # though OTHER judges it: the copy only names the policy the run was judged by.
    copy = tmp_path / "run"
    shutil.copytree(agency_run.run_dir, copy)
    (copy / "policy.toml").unlink()
    assert main(["score", str(copy)]) == 2  # judged by its own policy: that copy is needed
    assert "policy.toml: missing" in capsys.readouterr().err
    assert main(["score", str(copy), "--policy", str(DEFAULT)]) == 0
    out, err = capsys.readouterr()
    assert "policy.toml: missing" in err and "rescored by --policy, which does not read it" in err
    assert "was judged by metro-pd-v1 (its kept copy unchecked)" in out


def test_openrange_policy_names_the_agency_wide_policy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = agency_policy(tmp_path)
    monkeypatch.setenv(POLICY_ENV, str(policy))
    source = policy_in_effect()
    assert source.policy.id == "metro-pd-v1"
    assert source.path == policy
    config = RunConfig(find_drill("knife-approach-v1"), None, 1)
    assert config.policy.id == "metro-pd-v1"  # what every run without --policy is judged by
    assert policy_in_effect(DEFAULT).label == "default-continuum-v1"  # --policy wins
    monkeypatch.delenv(POLICY_ENV)
    assert policy_in_effect().label == "default-continuum-v1"


# -- nu24 #13: a file from a newer OpenRange says so ----------------------------------------

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("shipped", "model", "newer", "known", "kind"),
    [
        ("drills/data/drills/knife-approach-v1.toml", Drill, 99, 1, ""),
        ("drills/data/officers/active-shooter-correct-v1.toml", OfficerScript, 2, 1, ""),
        ("drills/data/courses/fbi-pistol-2019-v1.toml", Course, 7, 1, ""),
        ("drills/data/shooters.toml", ShooterFile, 3, 1, ""),
        ("scoring/data/policy-default.toml", Policy, 3, 2, ""),
        ("drills/data/speech/phrasebook-en-us.toml", PhraseBook, 7, 1, "phrase-book "),
    ],
)
def test_a_file_from_a_newer_openrange_says_so(
    shipped: str, model: type[StrictModel], newer: int, known: int, kind: str
) -> None:
    text = (ROOT / shipped).read_text()
    line = line_of(ROOT / shipped, f"version = {known}")
    lines = text.splitlines()
    lines[line - 1] = f"version = {newer}"
    with pytest.raises(DataFileError) as caught:
        parse_model("\n".join(lines), model, "x.toml")
    assert str(caught.value).splitlines()[0] == (
        f"x.toml:{line}: version: {newer}: this file is from a newer OpenRange: this OpenRange"
        f" reads {kind}format {known} only (update OpenRange, or ask for a format-{known} copy)"
    )


def test_an_older_or_impossible_version_is_still_a_plain_mistake() -> None:
    path = ROOT / "drills/data/drills/knife-approach-v1.toml"
    text = path.read_text().replace("version = 1", "version = 0", 1)
    with pytest.raises(DataFileError, match=r"version: 1 is needed, not 0$"):
        parse_model(text, Drill, "x.toml")


# -- nu24 #14: contradictory policy rows ----------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "needle", "said"),
    [
        (
            'taser = "excessive"\nfirearm = "excessive"\n\n[matrix.passive]',
            'taser = "excessive"\nfirearm = "justified"\n\n[matrix.passive]',
            'firearm = "justified"',
            "matrix.none.firearm: firearm cannot be justified against no threat: DECISION-01"
            " (critical) fails force on a subject who posed no threat whatever the matrix says"
            " (facts.md §5); use 'excessive'",
        ),
        (
            'id = "cew_max_cycles"\nrule = "CEW-04"',
            'id = "cew_max_cycles"\nrule = "CEW-03"  # wrong',
            "# wrong",
            "settings[4].rule: setting cew_max_cycles is read by CEW-04, not CEW-03",
        ),
        (
            '"near_flammables"]',
            '"near_flammables", "frail"]',
            '"near_flammables", "frail"]',
            "settings[6].words: setting cew_restricted: 'frail' given twice",
        ),
        (
            '"near_flammables"]',
            '"near_flammables", "impared", "crisis=mentalhealth"]',
            '"impared"',
            "settings[6].words: cew_restricted: 'impared', 'crisis=mentalhealth' are not one of",
        ),
    ],
)
def test_contradictory_policy_rows_are_refused(
    tmp_path: Path, old: str, new: str, needle: str, said: str
) -> None:
    path = policy_file(tmp_path, old, new)
    with pytest.raises(DataFileError) as caught:
        load_policy(path)
    assert str(caught.value).startswith(f"{path}:{line_of(path, needle)}: {said}")


def test_policy_validate_warns_of_a_matrix_that_looks_like_a_slip_and_flags_a_modified_copy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = 'taser = "justified"\nfirearm = "justified"\n'  # [matrix.deadly]
    path = policy_file(tmp_path, old, 'taser = "excessive"\nfirearm = "excessive"\n')
    assert main(["policy", "validate", str(path)]) == 0
    out, err = capsys.readouterr()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    assert (
        out
        == f"{path}: ok (default-continuum-v1 (modified, sha256 {digest}): 38 rules, 24 settings)\n"
    )
    deadly = path.read_text().splitlines().index("[matrix.deadly]") + 1
    assert err.splitlines() == [
        f"{path}:{deadly + 4}: matrix.deadly.firearm: warning: the firearm is not justified"
        " against a deadly threat (facts.md §5: deadly force answers a threat of death or serious"
        " injury)",
    ]
    # A lesser option excessive where a greater one is justified, at the same threat.
    path = policy_file(
        tmp_path,
        'verbal = "justified"\ntaser = "justified"\n',
        'verbal = "excessive"\ntaser = "justified"\n',
        "q.toml",
    )
    assert main(["policy", "validate", str(path)]) == 0
    err = capsys.readouterr().err
    active = path.read_text().splitlines().index("[matrix.active]") + 1
    assert (
        f"{path}:{active + 3}: matrix.active.taser: warning: taser is justified where the lesser"
        " verbal is excessive (threat active)"
    ) in (err)
    assert main(["policy", "validate", str(DEFAULT)]) == 0
    assert capsys.readouterr().err == ""


def test_a_run_judged_by_the_built_in_policy_records_its_hash_and_keeps_no_copy(
    tmp_path: Path,
) -> None:
    builtin = policy_in_effect(None, {})
    digest = hashlib.sha256(DEFAULT.read_bytes()).hexdigest()
    assert builtin.run_started() == {"policy_sha256": digest}
    started = {"policy": "default-continuum-v1", "policy_sha256": digest}
    assert saved_policy(tmp_path, started)[1] == "default-continuum-v1"
    # Judged by another version's built-in policy: this one's judges it, and says so.
    older = saved_policy(tmp_path, started | {"policy_sha256": "ab" * 32})[1]
    assert older == "default-continuum-v1 (this OpenRange's; the run's was sha256 abababababab)"


def test_policy_show_prints_the_policy_in_effect(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # rc25 #1: with no FILE it crashed (it read None); it shows what a run would be judged by.
    monkeypatch.delenv(POLICY_ENV, raising=False)
    assert main(["policy", "show", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["label"] == "default-continuum-v1"
    agency = policy_file(tmp_path, 'id = "default-continuum-v1"', 'id = "metro-pd-v1"')
    monkeypatch.setenv(POLICY_ENV, str(agency))
    assert main(["policy", "show"]) == 0
    assert capsys.readouterr().out.startswith("metro-pd-v1")


def test_a_bad_openrange_policy_names_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # rc25 #3: the lane's officer never typed the path: the one line says where it came from.
    for named in (tmp_path / "nope.toml", tmp_path):
        monkeypatch.setenv(POLICY_ENV, str(named))
        assert main(["drill", "run", "knife-approach-v1", "--seed", "1", "--no-save"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith(f"openrange: {named}")
        assert f"named by {POLICY_ENV}, the agency policy in effect" in err
