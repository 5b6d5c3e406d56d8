"""The gateway every real-client test talks to: started once for the whole folder (CPU is scarce)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.clients.stack import ClientStack, tools_capable_models
from tests.team.stack import team_stack


@pytest.fixture(scope="session")
def maximus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClientStack]:
    with team_stack(tmp_path_factory.mktemp("clients"), gateways=1) as team:
        home = tmp_path_factory.mktemp("client-homes")
        yield ClientStack(team, home, tools_capable_models(team.ollama.base_url))
