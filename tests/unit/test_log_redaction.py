"""Signed media URLs in access log lines lose their signatures; JSON log lines say which
request, workflow and post they are about."""

from __future__ import annotations

import dataclasses
import json
import logging

from temporalio import activity
from temporalio.testing import ActivityEnvironment

from herald.logs import JsonFormatter, SignedUrlRedaction, redact_access_log, request_id_var


def _access_line(path: str) -> str:
    # uvicorn's access logger: '%s - "%s %s HTTP/%s" %d' with the path and its query.
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "PUT", path, "1.1", 200),
        None,
    )
    SignedUrlRedaction().filter(record)
    return record.getMessage()


def test_signatures_are_redacted_and_the_rest_is_kept() -> None:
    line = _access_line("/v1/media-files/w/m?expires=1800000000&signature=ab12cd&size=10")
    assert line == (
        '127.0.0.1:5000 - "PUT /v1/media-files/w/m?expires=1800000000&signature=…&size=10'
        ' HTTP/1.1" 200'
    )
    s3 = _access_line("/b/k?X-Amz-Credential=AKIA%2F&X-Amz-Signature=f00d")
    assert "AKIA" not in s3 and "f00d" not in s3
    assert (
        _access_line("/v1/posts?limit=5") == '127.0.0.1:5000 - "PUT /v1/posts?limit=5 HTTP/1.1" 200'
    )


def test_the_filter_is_installed_once() -> None:
    redact_access_log()
    redact_access_log()
    access = logging.getLogger("uvicorn.access")
    assert sum(isinstance(f, SignedUrlRedaction) for f in access.filters) == 1


def _json_line(logger: logging.Logger, message: str) -> dict[str, object]:
    record = logger.makeRecord(logger.name, logging.INFO, __file__, 1, message, (), None)
    parsed: dict[str, object] = json.loads(JsonFormatter().format(record))
    return parsed


def test_json_lines_carry_the_request_id() -> None:
    logger = logging.getLogger("herald.test")
    bound = request_id_var.set("req_abc")
    try:
        line = _json_line(logger, "created")
    finally:
        request_id_var.reset(bound)
    assert line["message"] == "created" and line["level"] == "INFO"
    assert line["request_id"] == "req_abc" and "workflow_id" not in line
    assert "request_id" not in _json_line(logger, "outside a request")


async def test_json_lines_in_an_activity_carry_its_workflow_and_post() -> None:
    post_id = "4b7f6a1e-0000-4000-8000-000000000001"

    @activity.defn(name="publish_target")
    async def logs_a_line() -> dict[str, object]:
        return _json_line(logging.getLogger("activities.publish"), "published")

    env = ActivityEnvironment()
    env.info = dataclasses.replace(
        env.info, workflow_id=f"post/{post_id}", activity_type="publish_target"
    )
    line = await env.run(logs_a_line)
    assert line["workflow_id"] == f"post/{post_id}"
    assert line["post_id"] == post_id and line["activity"] == "publish_target"
