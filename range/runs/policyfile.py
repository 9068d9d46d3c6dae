"""The agency policy a drill run is judged by, kept with the run (nu24 #2).

The policy in effect is `drill run --policy FILE`, else the file `$OPENRANGE_POLICY` names (the
agency-wide setting: one place, read by every run on this machine, the console's lanes too),
else the built-in `scoring/data/policy-default.toml`. A run judged by a policy file keeps it
byte for byte as `policy.toml` beside its event log, as it keeps `drill.toml`, and its
`run_started` record holds the policy's id (`policy`), the file's SHA-256 (`policy_sha256`)
and where it came from (`policy_source`). A run judged by the built-in policy records only its
SHA-256: the copy would be 20 KB in every run folder, and the hash says which built-in it was.
`score`, `report`, the records and the console judge a saved run by that policy; `score --policy
OTHER` rescores it, and says so.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from drills.log import LogRecord
from physics.datafiles import DataFileError, Problem, decode, read_bytes
from range.runs.saved import sha256, verified_copy
from scoring.policy import Policy, default_policy, parse_policy

POLICY_ENV = "OPENRANGE_POLICY"
POLICY_COPY = "policy.toml"
BUILTIN_POLICY_FILE = (
    Path(__file__).resolve().parents[2] / "scoring" / "data" / "policy-default.toml"
)


@cache
def builtin_policy_sha256() -> str:
    return sha256(BUILTIN_POLICY_FILE.read_bytes())


def policy_label(policy_id: str, digest: str, source: str | Path | None) -> str:
    """The policy a score was judged by, as the range master must see it: the built-in one by
    its id; a file that keeps the built-in id but differs from it flagged `(modified, sha256
    1a2b3c4d5e6f)`; any other file with where it came from and its hash."""
    if digest == builtin_policy_sha256():
        return policy_id
    if policy_id == default_policy().id:
        return f"{policy_id} (modified, sha256 {digest[:12]})"
    where = f"file {source}, " if source is not None else ""
    return f"{policy_id} ({where}sha256 {digest[:12]})"


@dataclass(frozen=True, slots=True)
class PolicySource:
    """A policy with the bytes it was read from and where (None: the built-in file)."""

    policy: Policy
    content: bytes
    path: Path | None

    @property
    def sha256(self) -> str:
        return sha256(self.content)

    @property
    def label(self) -> str:
        return policy_label(self.policy.id, self.sha256, self.path)

    @property
    def kept(self) -> bool:
        """Whether the run folder keeps a copy (any file but the built-in one)."""
        return self.path is not None

    def run_started(self) -> dict[str, str]:
        """The fields `run_started` records of it."""
        if not self.kept:
            return {"policy_sha256": self.sha256}
        return {
            "policy_file": POLICY_COPY,
            "policy_sha256": self.sha256,
            "policy_source": str(self.path),
        }


def read_policy(path: Path) -> PolicySource:
    """A policy file; raises DataFileError (file:line: field: message)."""
    content = read_bytes(path)
    return PolicySource(parse_policy(decode(content, path), path), content, path)


def policy_in_effect(
    path: Path | None = None, environ: Mapping[str, str] | None = None
) -> PolicySource:
    """`path` (`--policy`), else `$OPENRANGE_POLICY`, else the built-in policy."""
    env = os.environ if environ is None else environ
    if path is None and env.get(POLICY_ENV):
        return _agency_policy(Path(env[POLICY_ENV]))
    if path is None:
        return PolicySource(default_policy(), BUILTIN_POLICY_FILE.read_bytes(), None)
    return read_policy(path)


def _agency_policy(path: Path) -> PolicySource:
    """The policy `$OPENRANGE_POLICY` names. A lane's officer never typed that path, so a
    problem with it says where it came from (rc25 #3), one line: DataFileError."""
    whence = f"named by {POLICY_ENV}, the agency policy in effect: unset it for the built-in one"
    try:
        return read_policy(path)
    except OSError as exc:
        problem = Problem(None, "", f"{exc.strerror or exc}: {whence}")
        raise DataFileError(path, [problem]) from exc
    except DataFileError as exc:
        first, *rest = exc.problems
        said = dataclasses.replace(first, message=f"{first.message}; {whence}")
        raise DataFileError(exc.path, [said, *rest]) from exc


def saved_policy(run_dir: Path, started: Mapping[str, Any]) -> tuple[Policy, str]:
    """The policy that judged a saved drill run, and its label: the copy in its run folder,
    checked against the SHA-256 its `run_started` recorded. A run saved before runs kept their
    policy was judged by the built-in one. Raises ValueError for a missing or altered copy
    (DataFileError, a ValueError, for a copy that does not read)."""
    digest = started.get("policy_sha256")
    if not isinstance(digest, str) or not started.get("policy_file"):
        policy = default_policy()
        if isinstance(digest, str) and digest != builtin_policy_sha256():
            # Judged by the built-in policy of another OpenRange version: this one's judges it.
            return policy, f"{policy.id} (this OpenRange's; the run's was sha256 {digest[:12]})"
        return policy, policy.id
    copy = run_dir / str(started.get("policy_file") or POLICY_COPY)
    content = verified_copy(copy, f"policy {started.get('policy')}", digest)
    policy = parse_policy(decode(content, copy), copy)
    source = started.get("policy_source")
    return policy, policy_label(policy.id, digest, source if isinstance(source, str) else None)


def run_policy(run_dir: Path, records: Sequence[LogRecord]) -> tuple[Policy, str]:
    """`saved_policy` for a run's log `records`: the built-in policy for a log that is not a
    drill run's (it has no `run_started` first)."""
    if records and records[0].kind == "run_started":
        return saved_policy(run_dir, records[0].data)
    policy = default_policy()
    return policy, policy.id


def own_policy(run_dir: Path, records: Sequence[LogRecord]) -> tuple[Policy, str]:
    """`run_policy`, graded anyway where the run's policy copy changed or cannot be read: the
    built-in policy then (`score` names what is wrong with the copy; a run cut short or
    closed is scored all the same)."""
    try:
        return run_policy(run_dir, records)
    except ValueError:
        policy = default_policy()
        return policy, policy.id
