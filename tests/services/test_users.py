"""Users: hashed passwords, lock-out, API tokens, visibility and masked contacts."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from clm.errors import AuthenticationError, ConflictError, InputError, PermissionDeniedError
from clm.services.actors import Actor
from clm.services.users import (
    authenticate,
    authenticate_token,
    create_user,
    customer_card,
    issue_token,
    list_customers,
    mask_email,
    mask_phone,
    revoke_token,
    set_role,
)
from clm.store.tables import ApiToken, AuditEntry, User

T0 = dt.datetime(2024, 3, 1, 9, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("raw", "masked"),
    [("13812348888", "138****8888"), ("+8613812348888", "+86****8888"), ("12345", "***45"),
     (None, None), ("", "")],
)
def test_phones_are_masked_keeping_prefix_and_last_four(raw, masked):
    assert mask_phone(raw) == masked


@pytest.mark.parametrize(
    ("raw", "masked"),
    [("zhang@example.com", "z***@example.com"), ("a@b.cn", "a***@b.cn"), ("broken", "b***")],
)
def test_emails_are_masked_keeping_the_first_letter_and_domain(raw, masked):
    assert mask_email(raw) == masked


def test_passwords_are_stored_as_argon2id_hashes(store):
    with store.session() as s:
        create_user(s, actor=Actor.system(), login="zhang", name="Zhang", role="sales",
                    password="s3cret-enough", now=T0)
        stored = s.scalars(select(User.password_hash)).one()
        assert stored.startswith("$argon2id$") and "s3cret-enough" not in stored
        assert authenticate(s, login="zhang", password="s3cret-enough", now=T0).login == "zhang"


def test_five_failures_lock_the_account_for_fifteen_minutes(store):
    with store.session() as s:
        create_user(s, actor=Actor.system(), login="zhang", name="Zhang", role="sales",
                    password="s3cret-enough", now=T0)
        for i in range(5):
            with pytest.raises(AuthenticationError, match="wrong login or password"):
                authenticate(s, login="zhang", password="guess", now=T0 + dt.timedelta(seconds=i))
        with pytest.raises(AuthenticationError, match="too many failed sign-ins"):
            authenticate(s, login="zhang", password="s3cret-enough",
                         now=T0 + dt.timedelta(minutes=14))
        user = authenticate(s, login="zhang", password="s3cret-enough",
                            now=T0 + dt.timedelta(minutes=16))
        assert (user.failed_logins, user.locked_until) == (0, None)
        failures = s.scalars(select(AuditEntry).where(AuditEntry.action == "login_failed")).all()
    assert len(failures) == 5


def test_unknown_logins_and_wrong_passwords_get_the_same_answer(store):
    with store.session() as s:
        create_user(s, actor=Actor.system(), login="zhang", name="Zhang", role="sales",
                    password="s3cret-enough", now=T0)
        with pytest.raises(AuthenticationError) as unknown:
            authenticate(s, login="nobody", password="x", now=T0)
        with pytest.raises(AuthenticationError) as wrong:
            authenticate(s, login="zhang", password="x", now=T0)
    assert str(unknown.value) == str(wrong.value)


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"login": "a b"}, "login"), ({"role": "boss"}, "role"), ({"password": "short"}, "password"),
     ({"email": "nope"}, "email"), ({"name": ""}, "name")],
)
def test_bad_user_input_names_the_field(store, changes, field):
    args = {"login": "zhang", "name": "Zhang", "role": "sales", "password": None} | changes
    with store.session() as s, pytest.raises(InputError) as info:
        create_user(s, actor=Actor.system(), now=T0, **args)
    assert info.value.context["field"] == field


def test_logins_are_unique_and_only_user_managers_create_users(store, new_user):
    sales = new_user("lei", "sales")
    with store.session() as s:
        with pytest.raises(ConflictError, match="taken"):
            create_user(s, actor=Actor.system(), login="lei", name="Lei", role="sales", now=T0)
        with pytest.raises(PermissionDeniedError, match="users:manage"):
            create_user(s, actor=sales, login="x1", name="X", role="admin", now=T0)
        with pytest.raises(PermissionDeniedError):
            set_role(s, actor=sales, user_id=sales.user_id, role="admin", now=T0)


def test_api_tokens_are_stored_hashed_and_can_be_revoked(store, new_user):
    mei = new_user("mei", "success")
    with store.session() as s:
        issued = issue_token(s, actor=mei, user_id=mei.user_id, name="laptop", now=T0)
        assert issued.token.startswith("clm_") and len(issued.token) > 40
        stored = s.scalars(select(ApiToken.token_hash)).one()
        assert issued.token not in stored and len(stored) == 64
        assert authenticate_token(s, token=issued.token, now=T0).login == "mei"
        with pytest.raises(AuthenticationError):
            authenticate_token(s, token=issued.token + "x", now=T0)
        revoke_token(s, actor=mei, token_id=issued.id, now=T0)
        with pytest.raises(AuthenticationError):
            authenticate_token(s, token=issued.token, now=T0)


def test_users_see_their_own_customers_unless_their_role_grants_more(
    store, sync, make_frames, new_user
):
    new_user("mei", "success")
    mei = new_user("lei", "sales")
    support = new_user("wang", "support")
    sync(*make_frames(4, owners=["mei", "lei", "lei", None]))
    with store.session() as s:
        assert [c["customer_id"] for c in list_customers(s, actor=mei)] == ["c001", "c002"]
        assert len(list_customers(s, actor=support)) == 4
        assert [c["customer_id"] for c in list_customers(s, actor=support, stage="new")] == [
            "c001"]
        rows = list_customers(s, actor=support, search="客户3")
    assert [r["customer_id"] for r in rows] == ["c003"]
    assert rows[0]["phone"] == "138****0003" and rows[0]["email"] == "u***@example.com"


def test_unmasked_contacts_need_the_permission_and_each_read_is_audited(
    store, sync, make_frames, new_user
):
    product = new_user("pm", "product")
    sales = new_user("lei", "sales")
    sync(*make_frames(2, owners=["lei", "lei"]))
    with store.session() as s:
        masked = customer_card(s, actor=product, customer_id="c000")
        assert masked["phone"] == "138****0000" and masked["contacts_masked"]
        with pytest.raises(PermissionDeniedError, match="contacts:unmask"):
            customer_card(s, actor=product, customer_id="c000", unmask=True)
        card = customer_card(s, actor=sales, customer_id="c000", unmask=True, now=T0)
        assert (card["phone"], card["email"]) == ("13800000000", "user0@example.com")
        reads = s.scalars(select(AuditEntry).where(AuditEntry.action == "read_unmasked")).all()
    assert [(r.actor_user_id, r.customer_id) for r in reads] == [(sales.user_id, "c000")]

