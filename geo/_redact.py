"""Keep signed URLs and tokens out of logs, manifests, reports and error messages.

Planetary Computer hands out SAS-signed blob URLs (``?st=...&se=...&sig=...``), S3
presigned URLs carry ``X-Amz-Signature`` and friends, and STAC APIs may take a token in
the query. Every URL that geo writes anywhere goes through :func:`redact_url` first, and
:class:`RedactingFilter` guards the log records of the ``geo`` logger.

Examples
--------
>>> redact_url("https://x.blob.core.windows.net/c/B04.tif?st=2025&se=2025&sp=rl&sig=abc%2B")
'https://x.blob.core.windows.net/c/B04.tif?st=2025&se=2025&sp=rl&sig=REDACTED'
>>> redact_text("GET https://h/a.tif?token=s3cr3t failed")
'GET https://h/a.tif?token=REDACTED failed'
"""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["SECRET_KEYS", "RedactingFilter", "redact_text", "redact_url"]

SECRET_KEYS = frozenset({
    "sig", "signature", "token", "access_token", "api_key", "apikey", "key", "code",
    "subscription-key", "password", "secret",
    "x-amz-signature", "x-amz-credential", "x-amz-security-token",
    "x-goog-signature", "x-goog-credential",
})
"""Query parameters whose values are secrets (compared case-insensitively)."""

_URL = re.compile(r"""(?i)\b(?:https?|s3|gs|az|abfs)://[^\s'"<>)]+""")
_PARAM = re.compile(
    r"(?i)([?&](?:" + "|".join(re.escape(k) for k in sorted(SECRET_KEYS)) + r")=)[^&\s'\"<>]+"
)
_BEARER = re.compile(r"(?i)\b(bearer|authorization:?)\s+[A-Za-z0-9._~+/=-]{8,}")


def redact_url(url: str) -> str:
    """The URL with the values of secret query parameters and any userinfo removed."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "REDACTED@" + netloc.rsplit("@", 1)[1]
    if not parts.query and netloc == parts.netloc:
        return url
    query = [(k, "REDACTED" if k.lower() in SECRET_KEYS else v)
             for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(query, safe=":/"),
                       parts.fragment))


def redact_text(text: str) -> str:
    """Redact every URL and bearer token inside free text (log lines, messages)."""
    text = _URL.sub(lambda m: redact_url(m.group(0)), text)
    text = _PARAM.sub(lambda m: m.group(1) + "REDACTED", text)  # bare paths and queries
    return _BEARER.sub(lambda m: f"{m.group(1)} REDACTED", text)


class RedactingFilter(logging.Filter):
    """A logging filter that redacts secrets from a record's message and arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact_text(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


_installed = False


def install() -> None:
    """Redact every log record of the ``geo`` loggers at creation (idempotent).

    Logger filters do not apply to records of child loggers, so the redaction hooks the
    record factory instead, for records whose logger name starts with ``geo``.
    """
    global _installed
    if _installed:
        return
    base = logging.getLogRecordFactory()
    redactor = RedactingFilter()

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = base(*args, **kwargs)  # type: ignore[arg-type]
        if record.name == "geo" or record.name.startswith("geo."):
            redactor.filter(record)
        return record

    logging.setLogRecordFactory(factory)
    _installed = True
