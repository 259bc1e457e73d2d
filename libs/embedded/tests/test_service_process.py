"""ServiceProcess runs an ssmd service module, waits for /healthz, stops it with SIGTERM."""

from __future__ import annotations

import textwrap
import urllib.request
from pathlib import Path

import pytest

from ssmd.embedded import ServerError, ServiceProcess

pytestmark = pytest.mark.system

SERVICE = textwrap.dedent(
    """
    import asyncio, os
    from ssmd.core.runtime import Service, run_main
    from ssmd.core.service_settings import RuntimeSettings

    async def main() -> int:
        runtime = RuntimeSettings.load()
        service = Service.from_settings("tiny", runtime)
        async def mark() -> None:
            with open(os.environ["TINY_MARK"], "a") as handle:
                handle.write("drained\\n")
        service.on_shutdown("mark", mark)
        return await service.run()

    run_main(main)
    """
)


def _tiny(tmp_path: Path, **env: str) -> ServiceProcess:
    package = tmp_path / "pkg"
    package.mkdir(exist_ok=True)
    (package / "tiny_service.py").write_text(SERVICE)
    return ServiceProcess(
        "tiny_service",
        tmp_path / "data",
        env={"PYTHONPATH": str(package), "TINY_MARK": str(tmp_path / "mark"), **env},
        wait_ready=True,
    )


def test_service_starts_answers_and_drains_on_stop(tmp_path: Path) -> None:
    process = _tiny(tmp_path)
    with process:
        with urllib.request.urlopen(f"{process.admin_url}/readyz", timeout=5) as response:
            assert response.status == 200
        port = process.port
        process.restart()
        assert process.port == port
    assert process.returncode is None  # reaped
    assert (tmp_path / "mark").read_text().splitlines() == ["drained", "drained"]


def test_bad_settings_fail_start_with_the_field_in_the_log(tmp_path: Path) -> None:
    process = _tiny(tmp_path, SSMD_RUNTIME_ENV="Not A Token")
    with pytest.raises(ServerError, match="SSMD_RUNTIME_ENV"):
        process.start()
