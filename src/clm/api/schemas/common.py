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


NO_NUL = r"^[^\x00]*$"
# Python's str.isspace characters, spelled out: "\s" means different things in JSON Schema's
# (ECMA 262) regular expressions, pydantic's (Rust) and Python's, and the services strip with
# Python's. A character outside this class survives ``str.strip()``.
_SPACE_OR_CONTROL = r"\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
# at least one character that is neither whitespace nor a control character, and no NUL
NOT_BLANK = rf"^[^\x00]*[^{_SPACE_OR_CONTROL}][^\x00]*$"
_EMAIL_PART = r"[!-?A-~]+"  # printable ASCII except "@" and space


def _text(
    max_length: int, *, required: bool = False, pattern: str | None = None, min_length: int = 0
) -> object:
    return Annotated[
        str,
        StringConstraints(
            min_length=max(min_length, 1 if required else 0),
            max_length=max_length,
            pattern=pattern or (NOT_BLANK if required else NO_NUL),
        ),
        AfterValidator(_clean),
    ]


ShortText = _text(200)
ShortName = _text(200, required=True)
Text500 = _text(500, required=True)
LongText = _text(10_000)
RequiredLongText = _text(10_000, required=True)
Login = _text(64, required=True, pattern=r"^[A-Za-z0-9_.@-]{2,64}$")
Email = _text(320, required=True, pattern=rf"^{_EMAIL_PART}@{_EMAIL_PART}\.{_EMAIL_PART}$")
Password = _text(200, min_length=1)
NewPassword = _text(200, min_length=10)  # services.users.MIN_PASSWORD_LENGTH


def _as_utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


# The store keeps UTC; SQLite hands it back without an offset, which is not RFC 3339.
UtcDatetime = Annotated[dt.datetime, AfterValidator(_as_utc)]
IntId = Annotated[int, Field(ge=1, le=MAX_ID)]
Localized = Annotated[
    dict[str, str], Field(description="The same label in each locale: {en: ..., zh-CN: ...}")
]
