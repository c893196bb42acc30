"""Secrets in URLs never reach logs or text that geo writes."""

from __future__ import annotations

import logging

from hypothesis import given
from hypothesis import strategies as st

from geo._redact import install, redact_text, redact_url

SAS = ("https://sentinel2l2a01.blob.core.windows.net/sentinel2-l2a/42/S/WD/B04.tif"
       "?st=2025-01-01T00%3A00%3A00Z&se=2025-01-02T00%3A00%3A00Z&sp=rl&sv=2024-05-04"
       "&sr=c&skoid=abc&sig=Zm9vYmFyYmF6cXV4%2B%3D")


def test_sas_signature_is_removed_but_url_kept():
    clean = redact_url(SAS)
    assert "Zm9vYmFy" not in clean and "sig=REDACTED" in clean
    assert clean.startswith("https://sentinel2l2a01.blob.core.windows.net/sentinel2-l2a/42/S/WD/B04.tif?")
    assert "sp=rl" in clean  # harmless parameters stay, for debugging


def test_presigned_s3_and_userinfo():
    url = ("https://user:pw@bucket.s3.amazonaws.com/k.tif?X-Amz-Credential=AKIA123"
           "&X-Amz-Signature=deadbeef&X-Amz-Security-Token=tok")
    clean = redact_url(url)
    for secret in ("AKIA123", "deadbeef", "=tok", "user:pw"):
        assert secret not in clean


def test_plain_urls_untouched():
    url = "http://127.0.0.1:8080/cogs/S2A_42SWD_20201005_0_L2A/B04.tif"
    assert redact_url(url) == url


def test_text_and_bearer():
    text = f"read failed for {SAS} with Authorization: Bearer abcdefghijklmnop"
    clean = redact_text(text)
    assert "Zm9vYmFy" not in clean and "abcdefghijklmnop" not in clean
    assert "read failed for https://" in clean


def test_logger_filter_redacts(caplog):
    install()
    install()  # idempotent
    log = logging.getLogger("geo.test")
    with caplog.at_level(logging.INFO, logger="geo"):
        log.info("fetching %s", SAS)
    assert "Zm9vYmFy" not in caplog.text and "sig=REDACTED" in caplog.text


@given(st.text(alphabet="abcdefXYZ0123456789-_", min_size=6, max_size=40))
def test_any_token_value_is_redacted(secret):
    url = f"https://example.org/a.tif?x=1&token={secret}&sig={secret}"
    clean = redact_url(url)
    assert f"={secret}" not in clean


def test_bare_query_in_an_access_log_line():
    line = '127.0.0.1 "GET /cogs/B04.tif?st=1&sig=abc123xyz HTTP/1.1" 206 -'
    assert "abc123xyz" not in redact_text(line) and "st=1" in redact_text(line)
