"""Fixtures for every test."""
from __future__ import annotations

import logging

import pytest
import structlog
from hypothesis import settings

# No time in a test's assertions: hypothesis's deadline (200 ms an example by default) is one, and failed a property
# test of the gateway's sightings on a machine busy with other work. Tests that need fewer examples say so themselves.
settings.register_profile("certx", deadline=None)
settings.load_profile("certx")


@pytest.fixture
def restored_logging():
    """A test that sets up the logs (certx.logs.configure) leaves them as they were."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers, root.level = handlers, level
    structlog.reset_defaults()
