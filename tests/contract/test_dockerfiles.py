"""Static checks of every service image (no Docker engine here, so we read the Dockerfiles).

Each service's Dockerfile must install exactly the workspace members that service depends on
(its ``ssmd-*`` dependencies, transitively) and nothing else, run as a non-root user, expose
its admin port, and start the service's own console script. torch belongs to the tournament
image only.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
NOT_IMAGES = {"cli"}  # the developer CLI runs on laptops, not in the cluster
SERVICES = sorted(
    path.parent.name
    for path in ROOT.glob("services/*/pyproject.toml")
    if path.parent.name not in NOT_IMAGES
)


def _pyproject(member: Path) -> dict[str, object]:
    with (member / "pyproject.toml").open("rb") as handle:
        return tomllib.load(handle)


def _members_by_distribution() -> dict[str, Path]:
    found = {}
    for path in [*ROOT.glob("libs/*/pyproject.toml"), *ROOT.glob("services/*/pyproject.toml")]:
        project = _pyproject(path.parent)["project"]
        assert isinstance(project, dict)
        found[str(project["name"])] = path.parent.relative_to(ROOT)
    return found


def _workspace_closure(service: str) -> set[str]:
    members = _members_by_distribution()
    todo = [f"ssmd-{service}"]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        project = _pyproject(ROOT / members[name])["project"]
        assert isinstance(project, dict)
        for requirement in project.get("dependencies", []):
            dist = re.split(r"[\s<>=!~;\[]", str(requirement), maxsplit=1)[0]
            if dist in members:
                todo.append(dist)
    return {str(members[name]) for name in seen}


def test_every_deployable_service_has_a_dockerfile() -> None:
    missing = [name for name in SERVICES if not (ROOT / "services" / name / "Dockerfile").exists()]
    assert missing == []


@pytest.mark.parametrize("service", SERVICES)
def test_image_installs_exactly_the_members_the_service_needs(service: str) -> None:
    dockerfile = (ROOT / "services" / service / "Dockerfile").read_text()
    copied = set(re.findall(r"^COPY\s+((?:libs|services)/[a-z_]+)\s", dockerfile, re.MULTILINE))
    assert copied == _workspace_closure(service)


@pytest.mark.parametrize("service", SERVICES)
def test_image_is_slim_non_root_and_runs_its_console_script(service: str) -> None:
    dockerfile = (ROOT / "services" / service / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.1[1-9]-slim", dockerfile, re.MULTILINE)
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.MULTILINE)
    assert users, "the image must switch to a non-root user"
    assert users[-1] not in {"0", "root"}
    cmd = re.findall(r"^CMD\s+(\[.*\])", dockerfile, re.MULTILINE)
    assert cmd, "the image needs an exec-form CMD"
    assert json.loads(cmd[-1])[0] == f"ssmd-{service}"
    project = _pyproject(ROOT / "services" / service)["project"]
    assert isinstance(project, dict)
    scripts = project.get("scripts", {})
    assert isinstance(scripts, dict)
    assert f"ssmd-{service}" in scripts
    assert "SSMD_RUNTIME_ADMIN_PORT" in dockerfile
    assert re.search(r"^EXPOSE\s+\d+", dockerfile, re.MULTILINE)


@pytest.mark.parametrize("service", SERVICES)
def test_only_the_tournament_image_carries_torch(service: str) -> None:
    if service == "tournament":
        pytest.skip("the tournament image is the one allowed to carry torch")
    closure = _workspace_closure(service)
    for member in closure:
        text = (ROOT / member / "pyproject.toml").read_text()
        assert "torch" not in text, f"{member} pulls torch into the {service} image"
