"""User-facing labels in zh-CN and en.

Every label a user reads comes from a catalog under ``domain/locales``; a test checks that both
catalogs hold the same keys, so no screen is half translated. Stage labels live in the stage
model files themselves (each stage carries ``label: {en, zh-CN}``).
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

LOCALES: tuple[str, ...] = ("en", "zh-CN")
DEFAULT_LOCALE = "en"


@cache
def catalog(locale: str) -> dict[str, str]:
    """The message catalog of ``locale`` (``en`` or ``zh-CN``)."""
    if locale not in LOCALES:
        raise KeyError(f"unknown locale {locale!r}; choose one of {', '.join(LOCALES)}")
    text = resources.files("clm.domain").joinpath(f"locales/{locale}.json").read_text("utf-8")
    return json.loads(text)


def normalize_locale(value: str | None) -> str:
    """Map ``zh``, ``zh_CN``, ``zh-cn``, ``en-US`` and the like onto a supported locale."""
    if not value:
        return DEFAULT_LOCALE
    v = value.replace("_", "-").lower()
    if v.startswith("zh"):
        return "zh-CN"
    return "en"


def t(key: str, locale: str = DEFAULT_LOCALE, /, **values: object) -> str:
    """The label for ``key`` in ``locale``, formatted with ``values``; the key if missing."""
    text = catalog(normalize_locale(locale)).get(key) or catalog(DEFAULT_LOCALE).get(key, key)
    return text.format(**values) if values else text
