"""Playbooks: what to do with a customer in each stage, who does it, and how often (spec s. 5).

A playbook is a YAML file (``resources/playbooks/default.yaml`` is the default) giving each
stage a goal, concrete actions, an owner role, a follow-up cadence, and the tasks to open when a
customer enters the stage. It is edited without code; each distinct content is stored once in
``playbook_versions`` (keyed by its SHA-256) and the most recently activated one is in force.
A bad file is refused with ``RuleError`` naming file, line and field, like the stage model.
"""

from __future__ import annotations

import calendar
import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from clm.errors import RuleError
from clm.services.actors import ROLES, Actor
from clm.services.audit import record, transaction
from clm.store.bulk import utcnow
from clm.store.tables import PlaybookVersion

LANGS = ("en", "zh-CN")
_N_DAYS = re.compile(r"^\s*(\d+)\s*days?\s*$")
_KIND = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


@dataclass(frozen=True)
class Cadence:
    """A follow-up rhythm: ``weekly``, ``twice_a_week`` (Monday and Thursday), ``monthly``
    (same day next month, clamped to the month's end) or every ``days`` days."""

    kind: str
    days: int | None = None

    @classmethod
    def parse(cls, value: object) -> Cadence:
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return cls("days", value)
        if isinstance(value, str):
            if value in ("weekly", "twice_a_week", "monthly"):
                return cls(value)
            match = _N_DAYS.match(value)
            if match and int(match.group(1)) > 0:
                return cls("days", int(match.group(1)))
        raise ValueError(
            f"cadence {value!r} is not weekly, twice_a_week, monthly or 'N days' (N > 0)"
        )

    def next_after(self, day: date) -> date:
        """The first due date strictly after ``day``."""
        if self.kind == "weekly":
            return day + timedelta(days=7)
        if self.kind == "days":
            return day + timedelta(days=self.days or 1)
        if self.kind == "twice_a_week":  # Monday (0) and Thursday (3)
            step = 1
            while (day + timedelta(days=step)).weekday() not in (0, 3):
                step += 1
            return day + timedelta(days=step)
        year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
        return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))

    def __str__(self) -> str:
        return f"{self.days} days" if self.kind == "days" else self.kind


@dataclass(frozen=True)
class TaskTemplate:
    kind: str
    title: dict[str, str]
    day: int
    every: Cadence | None = None
    until_day: int | None = None

    def due_dates(self, start: date) -> list[date]:
        """Due dates for a customer entering the stage on ``start``."""
        first = start + timedelta(days=self.day)
        if self.every is None:
            return [first]
        last = start + timedelta(days=self.until_day or self.day)
        out, due = [], first
        while due <= last:
            out.append(due)
            due = self.every.next_after(due)
        return out


@dataclass(frozen=True)
class StagePlaybook:
    stage: str
    goal: dict[str, str]
    owner_roles: tuple[str, ...]
    cadence: Cadence
    actions: tuple[dict[str, str], ...]
    tasks: tuple[TaskTemplate, ...]

    def planned_tasks(self, start: date) -> list[tuple[str, str, str, date]]:
        """``(kind, title_en, title_zh, due_on)`` for every task opened on entry."""
        return [
            (t.kind, t.title["en"], t.title["zh-CN"], due)
            for t in self.tasks
            for due in t.due_dates(start)
        ]


@dataclass(frozen=True)
class Playbook:
    name: str
    stages: dict[str, StagePlaybook]
    content: str

    @property
    def version_hash(self) -> str:
        return hashlib.sha256(self.content.encode("utf-8")).hexdigest()


# -- parsing with line numbers ------------------------------------------------------------


def _plain(node: yaml.Node, path: tuple, lines: dict[tuple, int]) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = yaml.safe_load(yaml.serialize(key_node))
            out[key] = _plain(value_node, (*path, key), lines)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_plain(item, (*path, i), lines) for i, item in enumerate(node.value)]
    return yaml.safe_load(yaml.serialize(node))


class _Checker:
    def __init__(self, file: str, lines: dict[tuple, int]) -> None:
        self.file, self.lines = file, lines

    def fail(self, path: tuple, message: str) -> RuleError:
        probe = path
        while probe and probe not in self.lines:
            probe = probe[:-1]
        line = self.lines.get(probe, 1)
        field = ".".join(str(p) for p in path) or "(top)"
        return RuleError(
            f"{self.file}:{line}: {field}: {message}", file=self.file, line=line, field=field
        )

    def mapping(
        self, value: Any, path: tuple, *, required: tuple[str, ...], optional: tuple[str, ...] = ()
    ) -> dict:
        if not isinstance(value, dict):
            raise self.fail(path, "must be a mapping")
        for key in value:
            if key not in required + optional:
                allowed = ", ".join(required + optional)
                raise self.fail((*path, key), f"unknown field; allowed: {allowed}")
        for key in required:
            if key not in value:
                raise self.fail(path, f"missing field {key!r}")
        return value

    def text(self, value: Any, path: tuple) -> dict[str, str]:
        self.mapping(value, path, required=LANGS)
        for lang in LANGS:
            if not isinstance(value[lang], str) or not value[lang].strip():
                raise self.fail((*path, lang), "must be non-empty text")
        return {lang: value[lang].strip() for lang in LANGS}

    def day(self, value: Any, path: tuple) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise self.fail(path, f"must be a whole number of days >= 0, not {value!r}")
        return value


def parse_playbook(text: str, *, file: str = "<playbook>") -> Playbook:
    """Parse and validate playbook YAML; errors name ``file:line: field``."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        raise RuleError(
            f"{file}:{line}: not valid YAML: {getattr(exc, 'problem', exc)}", file=file, line=line
        ) from None
    if node is None:
        raise RuleError(f"{file}:1: the playbook is empty", file=file, line=1)
    lines: dict[tuple, int] = {}
    data = _plain(node, (), lines)
    check = _Checker(file, lines)
    check.mapping(data, (), required=("name", "stages"))
    if not isinstance(data["name"], str) or not data["name"].strip():
        raise check.fail(("name",), "must be non-empty text")
    if not isinstance(data["stages"], dict) or not data["stages"]:
        raise check.fail(("stages",), "must map each stage name to its strategy")
    stages = {}
    for stage, spec in data["stages"].items():
        path = ("stages", stage)
        if not isinstance(stage, str) or not _KIND.match(stage):
            raise check.fail(path, "a stage name is lower-case letters, digits and _")
        stages[stage] = _stage(check, stage, spec, path)
    return Playbook(name=data["name"].strip(), stages=stages, content=text)


def _stage(check: _Checker, stage: str, spec: Any, path: tuple) -> StagePlaybook:
    check.mapping(
        spec, path, required=("goal", "owner_role", "cadence"), optional=("actions", "tasks")
    )
    roles = spec["owner_role"]
    roles = [roles] if isinstance(roles, str) else roles
    if not isinstance(roles, list) or not roles:
        raise check.fail((*path, "owner_role"), "must be a role or a list of roles")
    for i, role in enumerate(roles):
        if role not in ROLES:
            where = (
                (*path, "owner_role", i)
                if isinstance(spec["owner_role"], list)
                else (*path, "owner_role")
            )
            raise check.fail(where, f"unknown role {role!r}; roles are {', '.join(ROLES)}")
    try:
        cadence = Cadence.parse(spec["cadence"])
    except ValueError as exc:
        raise check.fail((*path, "cadence"), str(exc)) from None
    actions = spec.get("actions") or []
    if not isinstance(actions, list):
        raise check.fail((*path, "actions"), "must be a list")
    tasks_spec = spec.get("tasks") or []
    if not isinstance(tasks_spec, list):
        raise check.fail((*path, "tasks"), "must be a list")
    tasks, kinds = [], set()
    for i, item in enumerate(tasks_spec):
        tasks.append(_task(check, item, (*path, "tasks", i)))
        if tasks[-1].kind in kinds:
            raise check.fail((*path, "tasks", i, "kind"), f"kind {tasks[-1].kind!r} repeats")
        kinds.add(tasks[-1].kind)
    return StagePlaybook(
        stage=stage,
        goal=check.text(spec["goal"], (*path, "goal")),
        owner_roles=tuple(roles),
        cadence=cadence,
        actions=tuple(check.text(a, (*path, "actions", i)) for i, a in enumerate(actions)),
        tasks=tuple(tasks),
    )


def _task(check: _Checker, item: Any, path: tuple) -> TaskTemplate:
    check.mapping(item, path, required=("kind", "day", "title"), optional=("every", "until_day"))
    if not isinstance(item["kind"], str) or not _KIND.match(item["kind"]):
        raise check.fail((*path, "kind"), "must be lower-case letters, digits and _")
    every = until = None
    if "every" in item:
        try:
            every = Cadence.parse(item["every"])
        except ValueError as exc:
            raise check.fail((*path, "every"), str(exc)) from None
        if "until_day" not in item:
            raise check.fail(path, "a repeating task (every) needs until_day")
    if "until_day" in item:
        if every is None:
            raise check.fail((*path, "until_day"), "until_day needs every")
        until = check.day(item["until_day"], (*path, "until_day"))
    day = check.day(item["day"], (*path, "day"))
    if until is not None and until < day:
        raise check.fail((*path, "until_day"), f"until_day {until} is before day {day}")
    return TaskTemplate(
        kind=item["kind"],
        title=check.text(item["title"], (*path, "title")),
        day=day,
        every=every,
        until_day=until,
    )


def load_playbook(path: Path) -> Playbook:
    """Read and validate a playbook file."""
    try:
        text = Path(path).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RuleError(f"{path}: cannot read the playbook: {exc}", file=str(path)) from None
    return parse_playbook(text, file=str(path))


def default_playbook() -> Playbook:
    """The playbook of spec section 5, shipped with clm."""
    ref = resources.files("clm").joinpath("resources/playbooks/default.yaml")
    return parse_playbook(ref.read_text("utf-8"), file="default.yaml")


# -- versions in the store ------------------------------------------------------------------


def save_playbook(
    session: Session, *, actor: Actor, playbook: Playbook, now: datetime | None = None
) -> PlaybookVersion:
    """Store ``playbook`` as the version in force (re-activating identical earlier content)."""
    actor.require("playbooks:edit")
    now = now or utcnow()
    with transaction(session):
        row = session.scalar(
            select(PlaybookVersion).where(PlaybookVersion.version_hash == playbook.version_hash)
        )
        before = None
        current = _active_row(session)
        if current is not None:
            before = {"version_id": current.id, "version_hash": current.version_hash}
        if row is None:
            row = PlaybookVersion(
                name=playbook.name,
                version_hash=playbook.version_hash,
                content=playbook.content,
                created_by=actor.user_id,
                created_at=now,
                activated_at=now,
            )
            session.add(row)
        elif current is not None and current.id == row.id:
            return row
        else:
            row.activated_at = now
        session.flush()
        record(
            session,
            actor=actor,
            action="activate",
            entity="playbook",
            entity_id=row.id,
            before=before,
            after={"version_id": row.id, "version_hash": row.version_hash, "name": row.name},
            at=now,
        )
    return row


def _active_row(session: Session) -> PlaybookVersion | None:
    return session.scalar(
        select(PlaybookVersion)
        .order_by(PlaybookVersion.activated_at.desc(), PlaybookVersion.id.desc())
        .limit(1)
    )


def active_playbook(session: Session) -> tuple[Playbook, int] | None:
    """The playbook in force and its version id, or ``None`` before any was stored."""
    row = _active_row(session)
    if row is None:
        return None
    return parse_playbook(row.content, file=f"playbook version {row.id}"), row.id


def ensure_playbook(
    session: Session, *, actor: Actor, now: datetime | None = None
) -> tuple[Playbook, int]:
    """The playbook in force, storing the default one first if the store has none."""
    found = active_playbook(session)
    if found is not None:
        return found
    row = save_playbook(session, actor=actor, playbook=default_playbook(), now=now)
    return default_playbook(), row.id


def playbook_versions(session: Session) -> list[PlaybookVersion]:
    """Every stored version, newest activation first."""
    return list(
        session.scalars(
            select(PlaybookVersion).order_by(
                PlaybookVersion.activated_at.desc(), PlaybookVersion.id.desc()
            )
        )
    )
