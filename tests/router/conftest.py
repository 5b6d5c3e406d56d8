from __future__ import annotations

import dataclasses

import pytest

from router.config import load_config
from router.policy import RoutingPolicy


@pytest.fixture(scope="session")
def config():
    """The shipped configuration with the budget uncapped: the budget guard has tests of its own, and the other
    rules' reasons must not depend on whether a tracker answers."""
    shipped = load_config()
    return dataclasses.replace(shipped, budget=dataclasses.replace(shipped.budget, monthly_usd=0.0))


@pytest.fixture(scope="session")
def policy(config) -> RoutingPolicy:
    return RoutingPolicy(config)
