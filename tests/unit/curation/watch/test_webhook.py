"""The webhook: signed body, retries with backoff on 5xx, a clear error when it never answers."""

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from curation.exceptions import CurationError
from curation.webhook import SIGNATURE_HEADER, WebhookSender, sign, verify_signature

SECRET = "s3cret"


class Receiver:
    """An HTTP server on loopback answering the queued statuses, then 200."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.requests: list[tuple[bytes, str | None]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((body, self.headers.get(SIGNATURE_HEADER)))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    server = Receiver([503, 500])
    yield server
    server.close()


def test_the_record_arrives_signed_after_two_failed_attempts(receiver: Receiver) -> None:
    record = {"dataset_id": "abc", "rows": {"sft-train": 3}, "estimated_quality": None}
    sender = WebhookSender(receiver.url, SECRET, attempts=3, backoff_s=0.01)
    assert sender.send(record) == 200
    assert len(receiver.requests) == 3
    body, signature = receiver.requests[-1]
    assert json.loads(body) == record
    assert verify_signature(body, SECRET, signature)
    assert not verify_signature(body + b" ", SECRET, signature)
    assert not verify_signature(body, "other", signature)
    assert not verify_signature(body, SECRET, None)


def test_a_webhook_that_keeps_failing_is_an_error_naming_it(receiver: Receiver) -> None:
    receiver.statuses[:] = [503] * 10
    sender = WebhookSender(receiver.url, SECRET, attempts=2, backoff_s=0.01)
    with pytest.raises(CurationError, match="503"):
        sender.send({"dataset_id": "abc"})
    assert len(receiver.requests) == 2


def test_an_unreachable_webhook_is_an_error_naming_it() -> None:
    sender = WebhookSender("http://127.0.0.1:9/hook", SECRET, attempts=2, backoff_s=0.01)
    with pytest.raises(CurationError, match="unreachable"):
        sender.send({"dataset_id": "abc"})


def test_the_signature_is_hmac_sha256_of_the_body() -> None:
    import hashlib
    import hmac

    body = b'{"a":1}'
    assert sign(body, SECRET) == "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
