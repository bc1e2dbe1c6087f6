"""Each service module has a module-level FastStream `app` (for `faststream run services.<name>:app`), built from the
environment when first asked for: importing the module reads no setting and connects to nothing; with a metrics
port it is FastStream's ASGI app, serving /metrics, /live and /ready."""
from __future__ import annotations

import importlib

import pytest
from faststream._internal.application import Application

from services.shell import HttpApp


@pytest.mark.parametrize("name", ["gateway", "matcher", "projector"])
def test_each_service_module_has_its_app(name, monkeypatch, restored_logging):
    monkeypatch.setenv("CERTX_KAFKA", "127.0.0.1:1")          # never reached: building the app connects nothing
    monkeypatch.setenv("CERTX_METRICS_PORT", "0")
    monkeypatch.setenv("CERTX_LOG_FORMAT", "json")
    module = importlib.reload(importlib.import_module(f"services.{name}"))
    app = module.app
    assert isinstance(app, Application) and isinstance(app, HttpApp)
    assert {path for path, _ in app.routes} == {"/metrics", "/live", "/ready"}
    assert module.app is app, "built once"
