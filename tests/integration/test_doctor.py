"""`herald doctor` on a healthy deployment and on a broken one: it names each problem and
what to do about it, and its exit status says whether anything failed."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from herald.migrate import migrate
from tests.support.servers import free_port

BIN = Path(sys.executable).parent


async def _doctor(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run,
        [
            str(
                BIN / "herald",
            ),
            "doctor",
        ],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_a_healthy_deployment_passes(
    temporal_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'ok.db'}"
    await asyncio.to_thread(migrate, database_url)
    done = await _doctor(
        {
            "HERALD_DATABASE_URL": database_url,
            "HERALD_DATA_DIR": str(tmp_path),
            "HERALD_TEMPORAL_ADDRESS": temporal_env.client.service_client.config.target_host,
        }
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "all checks passed" in done.stdout
    assert "migrated to" in done.stdout and "search attributes" in done.stdout


async def test_a_broken_deployment_is_told_what_to_fix(tmp_path: Path) -> None:
    done = await _doctor(
        {
            "HERALD_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}",
            "HERALD_DATA_DIR": str(tmp_path),
            "HERALD_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
        }
    )
    assert done.returncode == 1, done.stdout + done.stderr
    lines = {
        line.split()[1]: line for line in done.stdout.splitlines() if line[:4] in ("ok  ", "FAIL")
    }
    assert lines["database"].startswith("FAIL") and "herald migrate" in lines["database"]
    assert lines["temporal"].startswith("FAIL") and "HERALD_TEMPORAL_ADDRESS" in lines["temporal"]
    assert lines["storage"].startswith("ok")
    assert "2 check(s) failed" in done.stdout
