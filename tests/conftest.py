"""Fixtures for every test."""
from __future__ import annotations

import logging

import pytest
import structlog


@pytest.fixture
def restored_logging():
    """A test that sets up the logs (certx.logs.configure) leaves them as they were."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers, root.level = handlers, level
    structlog.reset_defaults()
