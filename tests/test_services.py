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


@pytest.mark.parametrize("service", ["gateway", "matcher"])
@pytest.mark.parametrize("metrics", [[], ["--metrics-port", "0"]], ids=["plain", "with-metrics"])
def test_a_restarted_child_that_finds_the_broker_down_asks_for_another_start(service, metrics, tmp_path):
    """The supervisor checked the broker before the first start, so a broker a restarted child cannot reach is one
    coming back (`deploy/kafka.sh restart`): the child ends with EXIT_RETRY, never with a mistake's code (which
    stopped the matcher for good mid-restart), and never lingers serving /live and /ready with no service behind
    them (FastStream's ASGI app reports its start-up done before it connects its broker)."""
    import os
    import subprocess
    import sys

    from services.supervisor import CHILD, EXIT_RETRY

    env = {**os.environ, CHILD: "1", "CERTX_LOG_FORMAT": "json"}
    for name in ("CERTX_KAFKA_CONFIG", "CERTX_KAFKA_USER", "CERTX_KAFKA_PASSWORD"):
        env.pop(name, None)
    done = subprocess.run([sys.executable, "-m", "certx.cli", "serve", service, "--bootstrap", "127.0.0.1:1",
                           "--prefix", "nowhere.", *metrics], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == EXIT_RETRY, done.stdout[-2000:] + done.stderr[-2000:]
    assert '"service.failed"' in done.stdout + done.stderr
