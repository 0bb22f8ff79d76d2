"""Secrets out of error text: a server may echo the request (headers included) in its error body, and
error text is stored in generations.jsonl and rendered in reports. Backends redact at the boundary,
where an error line is built from what a server sent."""

from __future__ import annotations

import re
from collections.abc import Iterable

REDACTED = "[REDACTED]"

# A header name that carries a credential, then its value up to the end of the quoted/listed value.
_HEADER = re.compile(
    r"""(?ix)
    (?P<name>["']?(?:proxy-)?(?:authorization|api[-_]?key|x-api-key)["']?\s*[:=]\s*["']?)
    (?P<value>(?:bearer\s+|basic\s+|token\s+)?[^\s"',;}\]\)]+)
    """
)
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}")


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with every given secret value and every credential header value replaced by [REDACTED]."""
    text = _HEADER.sub(lambda m: m["name"] + REDACTED, text)
    text = _BEARER.sub(lambda m: f"{m[1]} {REDACTED}", text)
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)  # the key anywhere else (a URL, a quoted request)
        for n in range(len(secret) - 1, 3, -1):  # a key cut off where the error text was shortened
            if text.endswith(secret[:n]):
                text = text[:-n] + REDACTED
                break
    return text
