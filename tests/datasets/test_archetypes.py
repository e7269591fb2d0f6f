"""Archetype shares are allocated exactly and do not depend on the seed."""

from __future__ import annotations

import pytest

from clm.datasets.archetypes import ARCHETYPES, allocate


@pytest.mark.parametrize("total", [50, 51, 333, 5000, 12_345])
def test_allocation_sums_to_the_total_and_follows_the_shares(total):
    counts = allocate(total)
    assert counts.sum() == total
    for archetype, count in zip(ARCHETYPES, counts, strict=True):
        assert abs(count - archetype.share * total) < 1


def test_shares_add_up_to_one():
    assert sum(a.share for a in ARCHETYPES) == pytest.approx(1.0)


def test_expected_stages_are_the_six_default_stages():
    stages = {a.expected_stage for a in ARCHETYPES}
    assert stages == {"prospect", "new", "growing", "mature", "declining", "churned"}
