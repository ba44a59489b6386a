"""POSTing a record to a webhook, signed with HMAC-SHA256 and retried with backoff.

The body is the record as compact JSON (UTF-8); `X-Feedback-Signature: sha256=<hex>` is the
HMAC-SHA256 of exactly those bytes under the shared secret, the scheme GitHub's and Stripe's
webhooks use, so receivers can check it with a few lines (`verify_signature`). urllib3's `Retry`
does the retrying: connection errors, 429 and 5xx answers, exponential backoff, and a server's
Retry-After is honoured.
"""

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

import urllib3
from urllib3.util.retry import Retry

from curation.exceptions import CurationError

__all__ = ["SIGNATURE_HEADER", "WebhookSender", "sign", "verify_signature"]

SIGNATURE_HEADER = "X-Feedback-Signature"


def sign(body: bytes, secret: str) -> str:
    """The header value: `sha256=` and the hex HMAC-SHA256 of the body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, secret: str, header: str | None) -> bool:
    """Whether `header` is the signature of `body` (constant-time comparison)."""
    return header is not None and hmac.compare_digest(sign(body, secret), header)


class WebhookSender:
    """Sends records to one URL; `send` raises CurationError once every attempt failed."""

    def __init__(
        self,
        url: str,
        secret: str,
        attempts: int = 5,
        backoff_s: float = 0.5,
        timeout_s: float = 10.0,
    ) -> None:
        if attempts < 1:
            raise ValueError("webhook attempts must be at least 1")
        self.url = url
        self.secret = secret
        self.retry = Retry(
            total=attempts - 1,
            backoff_factor=backoff_s,
            status_forcelist=(429, 500, 502, 503, 504),
            allowed_methods=frozenset({"POST"}),
            raise_on_status=False,
        )
        self.pool = urllib3.PoolManager(timeout=urllib3.Timeout(total=timeout_s))

    def body(self, record: Mapping[str, Any]) -> bytes:
        """The bytes sent: the record as JSON (keys in the record's order)."""
        return json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode()

    def send(self, record: Mapping[str, Any]) -> int:
        """POST the record; the final HTTP status (2xx) or CurationError."""
        body = self.body(record)
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(body, self.secret)}
        try:
            response = self.pool.request(
                "POST", self.url, body=body, headers=headers, retries=self.retry
            )
        except urllib3.exceptions.HTTPError as exc:
            raise CurationError(f"webhook {self.url} unreachable after retries: {exc}") from exc
        if not 200 <= response.status < 300:
            raise CurationError(f"webhook {self.url} answered {response.status} after retries")
        return int(response.status)

    def publish(self, records: list[dict[str, Any]], timeout_s: float = 30.0) -> int:
        """Send each record (the watch's sink interface); the number sent."""
        for record in records:
            self.send(record)
        return len(records)
