"""When the Python client (clients/python) sends a request again, and how long it waits."""

from __future__ import annotations

import email.utils
import time

import httpx

from herald_client.retry import RetryPolicy, retry_after_s

POLICY = RetryPolicy(max_attempts=4, backoff_s=0.5, max_backoff_s=1.5, max_retry_after_s=30)


def _answer(status: int, **headers: str) -> httpx.Response:
    return httpx.Response(status, headers=headers)


def test_429_and_503_wait_their_retry_after_else_back_off() -> None:
    assert POLICY.after_response(_answer(429, **{"Retry-After": "3"}), 1, resent=False) == 3.0
    assert POLICY.after_response(_answer(503), 1, resent=False) == 0.5
    assert POLICY.after_response(_answer(503), 2, resent=False) == 1.0
    assert POLICY.after_response(_answer(503), 3, resent=False) == 1.5  # capped


def test_a_retry_after_as_an_http_date_counts_from_now() -> None:
    later = email.utils.formatdate(time.time() + 10, usegmt=True)
    waited = retry_after_s(_answer(429, **{"Retry-After": later}))
    assert waited is not None and 8 <= waited <= 10
    assert retry_after_s(_answer(429, **{"Retry-After": "soon"})) is None


def test_what_is_never_waited_out() -> None:
    too_long = _answer(429, **{"Retry-After": "120"})
    assert POLICY.after_response(too_long, 1, resent=False) is None
    assert POLICY.after_response(_answer(503), 4, resent=False) is None  # attempts spent
    for status in (400, 401, 403, 404, 412, 422, 500):
        assert POLICY.after_response(_answer(status), 1, resent=True) is None
    assert POLICY.after_error(4) is None


def test_a_409_is_asked_again_only_after_a_resend() -> None:
    # After a lost answer the first attempt may still run under the same key: 409 for now.
    assert POLICY.after_response(_answer(409), 2, resent=True) == 1.0
    assert POLICY.after_response(_answer(409), 1, resent=False) is None
