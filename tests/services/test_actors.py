"""Roles and permissions: one table in code, the same table in the docs, labels in en and zh-CN."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from clm.errors import PermissionDeniedError
from clm.services.actors import (
    PERMISSION_LABELS,
    PERMISSIONS,
    ROLE_LABELS,
    ROLE_PERMISSIONS,
    ROLES,
    Actor,
)
from clm.services.consent import CONSENT_CHANNEL_LABELS, PURPOSE_LABELS, PURPOSES
from clm.services.followups import CHANNEL_LABELS
from clm.services.reminders import TEXT
from clm.store.tables import FOLLOW_UP_CHANNELS

DOCS = Path(__file__).resolve().parents[2] / "docs" / "operations.md"


def test_every_role_is_documented_with_exactly_its_permissions():
    assert set(ROLES) == set(ROLE_PERMISSIONS)
    docs = DOCS.read_text("utf-8")
    for role in ROLES:
        row = re.search(rf"^\| `{role}` \|(.*)$", docs, re.MULTILINE)
        assert row, f"role {role} missing from the roles table in docs/operations.md"
        cells = [c.strip() for c in row.group(1).split("|")]
        granted = {p for p, c in zip(PERMISSIONS, cells[1:], strict=False) if c == "yes"}
        assert granted == set(ROLE_PERMISSIONS[role]), role
    for permission in PERMISSIONS:
        assert f"| `{permission}` |" in docs, permission


@pytest.mark.parametrize(
    ("labels", "keys"),
    [(ROLE_LABELS, ROLES), (PERMISSION_LABELS, tuple(PERMISSIONS)),
     (CHANNEL_LABELS, FOLLOW_UP_CHANNELS), (PURPOSE_LABELS, PURPOSES),
     (CONSENT_CHANNEL_LABELS, tuple(CONSENT_CHANNEL_LABELS))],
)
def test_every_label_exists_in_english_and_chinese(labels, keys):
    assert set(labels) == set(keys)
    for key in keys:
        assert labels[key]["en"].strip() and labels[key]["zh-CN"].strip(), key


def test_reminder_texts_exist_in_both_languages():
    assert set(TEXT) == {"en", "zh-CN"} and set(TEXT["en"]) == set(TEXT["zh-CN"])


def test_a_missing_permission_is_named():
    with pytest.raises(PermissionDeniedError, match="'audit:read'") as info:
        Actor(user_id=3, login="pm", role="product").require("audit:read")
    assert info.value.context == {"permission": "audit:read", "role": "product"}


def test_automated_runs_and_admins_hold_every_permission():
    assert Actor.automated("run-1").permissions == frozenset(PERMISSIONS)
    assert Actor(user_id=1, role="admin").permissions == frozenset(PERMISSIONS)
    assert Actor(user_id=2, role="nonsense").permissions == frozenset()
