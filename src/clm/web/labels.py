"""Display labels for codes the pages show: stages, segments, tiers, channels, roles.

Presentation only: which code a customer has is decided by the services; this module only
says how a code reads in en or zh-CN, falling back to the code itself for codes a user's own
stage model or segment map introduced.
"""

from __future__ import annotations

from urllib.parse import urlencode

from clm.domain.i18n import catalog, normalize_locale


def _lookup(key: str, locale: str, fallback: str) -> str:
    text = catalog(normalize_locale(locale)).get(key) or catalog("en").get(key)
    return text or fallback


def stage_label(stage: str | None, locale: str) -> str:
    if not stage:
        return _lookup("web.stage.none", locale, "-")
    return _lookup(f"stage.{stage}", locale, stage)


def segment_label(segment: str | None, locale: str) -> str:
    return _lookup(f"segment.{segment}", locale, segment or "-")


def tier_label(tier: str | None, locale: str) -> str:
    return _lookup(f"tier.{tier}", locale, tier or "-")


def customers_url(**filters: object) -> str:
    """The customer list narrowed to ``filters`` (empty values left out): every number on the
    dashboard links to the customers behind it."""
    query = {k: v for k, v in filters.items() if v not in (None, "", False)}
    return "/customers" + (f"?{urlencode(query)}" if query else "")
