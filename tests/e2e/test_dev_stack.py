"""`herald dev` as a user runs it: every part starts, dev.json is written, the printed key
publishes to the sandbox Mastodon account, both metrics endpoints count what it did, one trace
runs from the API request through the workflow to the platform call (OTLP to a collector the
test runs), and Ctrl-C leaves no process behind."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psutil
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.otlp import Collector, running_collector
from tests.support.servers import free_port

BIN = Path(sys.executable).parent


def _wait_for_file(path: Path, process: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        if process.poll() is not None:
            raise AssertionError(f"herald dev exited early with {process.returncode}")
        if time.monotonic() > deadline:
            raise AssertionError("herald dev did not become ready")
        time.sleep(0.25)


@pytest.fixture(scope="module")
def collector() -> Iterator[Collector]:
    with running_collector() as running:
        yield running


@pytest.fixture
def dev_stack(
    tmp_path: Path, collector: Collector
) -> Iterator[tuple[subprocess.Popen[bytes], dict[str, object]]]:
    env = {
        # Traces on, to the test's collector, sent within a moment of each span ending.
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url,
        "OTEL_BSP_SCHEDULE_DELAY": "200",
        **os.environ,
        "HERALD_DATA_DIR": str(tmp_path / "herald"),
        "HERALD_API_PORT": str(free_port()),
        "HERALD_EMULATOR_PORT": str(free_port()),
        "HERALD_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
        "HERALD_TEMPORAL_UI_PORT": str(free_port()),
        "HERALD_WORKER_METRICS_PORT": str(free_port()),
    }
    env.pop("HERALD_DATABASE_URL", None)
    log = (tmp_path / "dev.log").open("wb")
    process = subprocess.Popen(
        [str(BIN / "herald"), "dev"], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path
    )
    try:
        _wait_for_file(tmp_path / "herald" / "dev.json", process, 90)
        facts = json.loads((tmp_path / "herald" / "dev.json").read_text())
        yield process, facts  # type: ignore[misc]
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            process.wait(30)
        log.close()


def test_herald_dev_runs_everything_and_stops_cleanly(
    dev_stack: tuple[subprocess.Popen[bytes], dict[str, object]], collector: Collector
) -> None:
    process, facts = dev_stack
    children = psutil.Process(process.pid).children(recursive=True)
    assert len(children) >= 4  # Temporal, emulator, worker, API
    # It holds the demo API key: readable by its owner only.
    data_dir = Path(psutil.Process(process.pid).cwd()) / "herald"
    assert stat.S_IMODE((data_dir / "dev.json").stat().st_mode) == 0o600

    assert set(facts) == {
        "api_url",
        "api_key",
        "user_email",
        "user_password",
        "workspace_id",
        "brand_id",
        "temporal_address",
        "temporal_ui_url",
        "emulator_url",
        "accounts",
        "metrics_urls",
    }
    # The demo owner, printed in the banner, logs in and owns the demo workspace.
    banner = (data_dir.parent / "dev.log").read_text(errors="replace")
    assert f"{facts['user_email']} / {facts['user_password']}" in banner
    login = httpx.post(
        f"{facts['api_url']}/v1/auth/login",
        json={"email": facts["user_email"], "password": facts["user_password"]},
        timeout=10,
    )
    assert login.status_code == 200, login.text
    me = httpx.get(
        f"{facts['api_url']}/v1/auth/me",
        headers={"Authorization": f"Bearer {login.json()['access_token']}"},
        timeout=10,
    ).json()
    assert [(w["id"], w["role"]["name"]) for w in me["workspaces"]] == [
        (facts["workspace_id"], "owner")
    ]
    [account] = [a for a in facts["accounts"] if a["platform"] == "mastodon"]  # type: ignore[attr-defined]
    headers = {"Authorization": f"Bearer {facts['api_key']}"}
    with httpx.Client(base_url=str(facts["api_url"]), headers=headers, timeout=10) as api:
        assert api.get("/readyz").json()["status"] == "ready"
        assert httpx.get(str(facts["temporal_ui_url"]), timeout=10).status_code == 200

        now_id = api.post(
            "/v1/posts",
            json={
                "content": "dev now",
                "targets": [{"account_id": account["id"]}],
                "publish_now": True,
            },
        ).json()["id"]
        at = (datetime.now(UTC) + timedelta(seconds=4)).replace(microsecond=0)
        later_id = api.post(
            "/v1/posts",
            json={
                "content": "dev later",
                "targets": [{"account_id": account["id"]}],
                "scheduled_at": at.isoformat(),
            },
        ).json()["id"]
        deadline = time.monotonic() + 30
        while True:
            posts = [api.get(f"/v1/posts/{i}").json() for i in (now_id, later_id)]
            if all(p["status"] == "published" for p in posts) or time.monotonic() > deadline:
                break
            time.sleep(0.3)  # two reads each time: within the key's 10 a second
    assert [p["status"] for p in posts] == ["published", "published"]
    assert all(p["targets"][0]["platform_post_url"] for p in posts)
    _check_metrics(facts["metrics_urls"])  # type: ignore[arg-type]
    _check_trace(collector)

    emulated = httpx.get(
        f"{facts['emulator_url']}/_emulator/posts", params={"platform": "mastodon"}
    ).json()
    assert sorted(p["text"] for p in emulated["data"]) == ["dev later", "dev now"]
    later = next(p for p in emulated["data"] if p["text"] == "dev later")
    published = datetime.fromisoformat(later["created_at"].replace("Z", "+00:00"))
    assert at <= published < at + timedelta(seconds=2)

    process.send_signal(signal.SIGINT)
    assert process.wait(30) == 0
    time.sleep(0.5)
    assert [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE] == []


def _sample(text: str, name: str, **labels: str) -> float | None:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return None


def _check_metrics(urls: dict[str, str]) -> None:
    """What the test did, in the series: two posts created, two targets published."""
    api = httpx.get(urls["api"], timeout=10).text
    created = _sample(
        api, "herald_http_requests_total", handler="/v1/posts", method="POST", status="201"
    )
    assert created == 2, api[:2000]
    assert _sample(api, "herald_http_requests_inprogress", method="POST") == 0  # all answered
    worker = httpx.get(urls["worker"], timeout=10).text
    assert _sample(worker, "herald_targets_published_total", platform="mastodon") == 2
    assert _sample(worker, "herald_publish_latency_seconds_count", platform="mastodon") == 2
    calls = _sample(
        worker, "herald_platform_publish_seconds_count", platform="mastodon", outcome="published"
    )
    assert calls == 2
    # The Temporal SDK's own worker series, on the same URL.
    assert _sample(worker, "temporal_num_pollers") is not None, worker[-1500:]


def _check_trace(collector: Collector) -> None:
    """One trace from the API's POST /v1/posts through the workflow to the platform call."""
    deadline = time.monotonic() + 20
    while True:
        traces = collector.traces_with("herald-api", "POST /v1/posts")
        complete = [
            t
            for t in traces
            if any(
                s.service == "herald-worker"
                and "/api/v1/statuses"
                in s.attributes.get("url.full", s.attributes.get("http.url", ""))
                for s in collector.of_trace(t)
            )
        ]
        if complete or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert complete, sorted({(s.service, s.name) for s in collector.spans})[:40]
    spans = collector.of_trace(complete[0])
    names = {(s.service, s.name) for s in spans}
    assert ("herald-api", "StartWorkflow:PostWorkflow") in names, names
    assert ("herald-worker", "RunWorkflow:PostWorkflow") in names, names
    assert ("herald-worker", "RunActivity:publish_targets") in names, names
