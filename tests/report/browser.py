"""Debian's Chromium, headless, for the report's test: driven by its chromedriver over WebDriver's HTTP protocol
(JSON over HTTP, so urllib is the whole client; no websocket library, no browser download).

The browser is started as the machine notes say it must be on a closed network (no background networking,
no component updates, no sync) and resolves every host name to nothing (but the ones it is told to reach: the
market page's server on 127.0.0.1), so a page that tried to load anything from the network could not, and the
attempt shows in the performance log's network events.
"""
from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", "--window-size=1400,1000"]


def installed() -> bool:
    return bool(shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _resolver(reach: tuple[str, ...]) -> str:
    """Every host name, and every address but those in `reach`, resolves to nothing."""
    return "--host-resolver-rules=MAP * ~NOTFOUND" + "".join(f", EXCLUDE {host}" for host in reach)


class Browser:
    def __init__(self, workdir: Path, reach: tuple[str, ...] = ()) -> None:
        # chromedriver exits at once when its log file's folder is missing.
        workdir.mkdir(parents=True, exist_ok=True)
        port = _free_port()
        self.base = f"http://127.0.0.1:{port}"
        self.driver = subprocess.Popen([CHROMEDRIVER, f"--port={port}", f"--log-path={workdir / 'chromedriver.log'}"],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            self._wait_ready()
            answer = self._call("POST", "/session", {"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {"binary": CHROMIUM,
                                       "args": ARGS + [f"--user-data-dir={workdir / 'profile'}",
                                                       _resolver(reach)]},
                "goog:loggingPrefs": {"browser": "ALL", "performance": "ALL"},
            }}})
        except BaseException:
            self.driver.kill()
            raise
        self.session = f"/session/{answer['sessionId']}"

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 20
        while True:
            try:
                if self._call("GET", "/status").get("ready"):
                    return
            except (OSError, urllib.error.URLError):
                pass
            if time.monotonic() > deadline or self.driver.poll() is not None:
                raise RuntimeError("chromedriver did not start")
            time.sleep(0.1)

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return json.loads(response.read())["value"]
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"{method} {path}: {exc.read()[:500]!r}") from None

    def open(self, url: str) -> None:
        self._call("POST", self.session + "/url", {"url": url})

    def run(self, script: str, *args: Any) -> Any:
        """JavaScript in the page: the body of a function, `arguments` its arguments."""
        return self._call("POST", self.session + "/execute/sync", {"script": script, "args": list(args)})

    def log(self, kind: str) -> list[dict]:
        """The browser's log since the last call: "browser" (the console), "performance" (DevTools events)."""
        return self._call("POST", self.session + "/se/log", {"type": kind})

    def cdp(self, command: str, **params: Any) -> Any:
        return self._call("POST", self.session + "/goog/cdp/execute", {"cmd": command, "params": params})

    def screenshot(self, path: Path) -> None:
        """The whole page, not only the window."""
        size = self.cdp("Page.getLayoutMetrics")["cssContentSize"]
        shot = self.cdp("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                        clip={"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1})
        path.write_bytes(base64.b64decode(shot["data"]))

    def close(self) -> None:
        try:
            self._call("DELETE", self.session)
        finally:
            self.driver.terminate()
            try:
                self.driver.wait(10)
            except subprocess.TimeoutExpired:
                self.driver.kill()

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
