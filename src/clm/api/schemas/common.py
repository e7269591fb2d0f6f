"""Field types shared by the schemas: bounded text, ids, bilingual labels.

Text is bounded and refuses NUL characters and unpaired surrogates up front: PostgreSQL cannot
store the first, UTF-8 cannot encode the second, and both would otherwise surface as a server
error deep in a service instead of a 422 naming the field. Ids are bounded to 32-bit integers
for the same reason (SQLite and PostgreSQL overflow differently).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

MAX_ID = 2**31 - 1


def _clean(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode (no unpaired surrogates)") from None
    return value


def _text(max_length: int, min_length: int = 0) -> object:
    return Annotated[
        str,
        StringConstraints(min_length=min_length, max_length=max_length),
        AfterValidator(_clean),
    ]


ShortText = _text(200)
ShortName = _text(200, 1)
Text500 = _text(500)
LongText = _text(10_000)
Secret = _text(200, 1)
def _as_utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


# The store keeps UTC; SQLite hands it back without an offset, which is not RFC 3339.
UtcDatetime = Annotated[dt.datetime, AfterValidator(_as_utc)]
IntId = Annotated[int, Field(ge=1, le=MAX_ID)]
Localized = Annotated[
    dict[str, str], Field(description="The same label in each locale: {en: ..., zh-CN: ...}")
]
