"""Playbook files: the default strategy, validation naming file and line, cadences, versions."""

from __future__ import annotations

import datetime as dt
import re
from importlib import resources
from pathlib import Path

import pytest

from clm.errors import PermissionDeniedError, RuleError
from clm.services.actors import ROLES
from clm.services.playbooks import (
    Cadence,
    active_playbook,
    default_playbook,
    load_playbook,
    parse_playbook,
    playbook_versions,
    save_playbook,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
DEFAULT_TEXT = (
    resources.files("clm").joinpath("resources/playbooks/default.yaml").read_text("utf-8")
)


def test_default_playbook_covers_the_six_stages_of_the_spec():
    book = default_playbook()
    assert list(book.stages) == ["prospect", "new", "growing", "mature", "declining", "churned"]
    assert book.stages["new"].owner_roles == ("success",)
    assert str(book.stages["declining"].cadence) == "twice_a_week"
    assert book.stages["new"].goal["zh-CN"] == "快速激活，建立信任"
    for stage in book.stages.values():
        assert stage.actions and all(a["en"] and a["zh-CN"] for a in stage.actions)
        assert set(stage.owner_roles) <= set(ROLES)


def test_new_customers_get_an_onboarding_call_then_weekly_calls_for_30_days():
    plan = default_playbook().stages["new"].planned_tasks(dt.date(2024, 3, 1))
    assert [(kind, due.isoformat()) for kind, _en, _zh, due in plan] == [
        ("onboarding_call", "2024-03-02"),
        ("weekly_onboarding_call", "2024-03-09"),
        ("weekly_onboarding_call", "2024-03-16"),
        ("weekly_onboarding_call", "2024-03-23"),
        ("weekly_onboarding_call", "2024-03-30"),
    ]


@pytest.mark.parametrize(
    ("cadence", "day", "expected"),
    [
        ("weekly", dt.date(2024, 3, 1), dt.date(2024, 3, 8)),
        ("monthly", dt.date(2024, 1, 31), dt.date(2024, 2, 29)),
        ("monthly", dt.date(2024, 12, 15), dt.date(2025, 1, 15)),
        ("twice_a_week", dt.date(2024, 3, 4), dt.date(2024, 3, 7)),  # Mon -> Thu
        ("twice_a_week", dt.date(2024, 3, 7), dt.date(2024, 3, 11)),  # Thu -> Mon
        ("10 days", dt.date(2024, 3, 1), dt.date(2024, 3, 11)),
        (3, dt.date(2024, 3, 1), dt.date(2024, 3, 4)),
    ],
)
def test_cadences_give_the_next_due_date(cadence, day, expected):
    assert Cadence.parse(cadence).next_after(day) == expected


def _broken(old: str, new: str) -> str:
    assert old in DEFAULT_TEXT
    return DEFAULT_TEXT.replace(old, new, 1)


def _line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


@pytest.mark.parametrize(
    ("old", "new", "needle", "message"),
    [
        ("cadence: twice_a_week", "cadence: fortnightly", "cadence: fortnightly",
         "stages.declining.cadence: cadence 'fortnightly' is not"),
        ("owner_role: [success]\n    cadence: weekly", "owner_role: [sucess]\n    cadence: weekly",
         "owner_role: [sucess]", "stages.new.owner_role.0: unknown role 'sucess'"),
        ("        day: 90", "        day: -2", "day: -2", "stages.churned.tasks.1.day: must be"),
        ("        until_day: 30\n", "", "kind: weekly_onboarding_call",
         "stages.new.tasks.1: a repeating task (every) needs until_day"),
        ("zh-CN: 快速激活，建立信任}", "zh: 快速激活}", "goal: {en: Activate fast",
         "stages.new.goal.zh: unknown field"),
        ("    owner_role: [support, sales]\n", "    owner: [support, sales]\n",
         "owner: [support", "stages.declining.owner: unknown field"),
    ],
)
def test_invalid_playbooks_name_file_line_and_field(old, new, needle, message):
    text = _broken(old, new)
    with pytest.raises(RuleError, match=re.escape(message)) as info:
        parse_playbook(text, file="mine.yaml")
    if needle in text:
        assert info.value.context["line"] == _line_of(text, needle)
    assert str(info.value).startswith(f"mine.yaml:{info.value.context['line']}: ")


def test_a_missing_field_points_at_its_stage():
    text = _broken("    cadence: monthly\n    actions:\n      - {en: Advanced",
                   "    actions:\n      - {en: Advanced")
    with pytest.raises(RuleError, match=r"stages\.growing: missing field 'cadence'") as info:
        parse_playbook(text, file="p.yaml")
    assert info.value.context["line"] == _line_of(text, "goal: {en: Uncover")


def test_yaml_syntax_errors_name_the_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nstages:\n  new: [unclosed\n", "utf-8")
    with pytest.raises(RuleError, match=r"bad.yaml:\d+: not valid YAML"):
        load_playbook(path)


def test_saving_versions_the_playbook_and_identical_content_is_stored_once(store, admin):
    changed = parse_playbook(_broken("cadence: twice_a_week", "cadence: 3 days"), file="x")
    with store.session() as s:
        first = save_playbook(s, actor=admin, playbook=default_playbook())
        again = save_playbook(s, actor=admin, playbook=default_playbook())
        second = save_playbook(s, actor=admin, playbook=changed)
        assert first.id == again.id != second.id
        book, version = active_playbook(s)
        assert version == second.id and str(book.stages["declining"].cadence) == "3 days"
        back = save_playbook(s, actor=admin, playbook=default_playbook())
        assert back.id == first.id and active_playbook(s)[1] == first.id
        assert len(playbook_versions(s)) == 2


def test_only_editors_may_change_the_playbook(store, new_user):
    sales = new_user("lei", "sales")
    with store.session() as s, pytest.raises(PermissionDeniedError, match="playbooks:edit"):
        save_playbook(s, actor=sales, playbook=default_playbook())


def test_docs_show_the_default_playbook_verbatim():
    assert DEFAULT_TEXT.strip() in DOCS.read_text("utf-8")
