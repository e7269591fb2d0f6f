"""The signed session cookie: round trip, forgery, expiry."""

from __future__ import annotations

import pytest

from clm.web.session import SessionSigner


def test_a_session_reads_back_what_was_signed():
    signer = SessionSigner("k1")
    token = signer.dumps({"uid": 3, "csrf": "abc"}, now=1000)
    assert signer.loads(token, now=1001) == {"uid": 3, "csrf": "abc"}


def test_a_session_signed_with_another_key_is_no_session():
    token = SessionSigner("k1").dumps({"uid": 3}, now=1000)
    assert SessionSigner("k2").loads(token, now=1001) == {}


def test_an_altered_session_is_no_session():
    signer = SessionSigner("k1")
    body, stamp, sig = signer.dumps({"uid": 3}, now=1000).split(".")
    forged = SessionSigner("k1").dumps({"uid": 1}, now=1000).split(".")[0]
    assert signer.loads(f"{forged}.{stamp}.{sig}", now=1001) == {}
    assert signer.loads(f"{body}.{int(stamp) + 5000}.{sig}", now=1001) == {}


def test_an_expired_session_is_no_session():
    signer = SessionSigner("k1", max_age=60)
    token = signer.dumps({"uid": 3}, now=1000)
    assert signer.loads(token, now=1059) == {"uid": 3}
    assert signer.loads(token, now=1061) == {}


@pytest.mark.parametrize("junk", [None, "", "a.b", "a.b.c.d", "!!.1.x"])
def test_garbage_is_no_session(junk):
    assert SessionSigner("k1").loads(junk) == {}
