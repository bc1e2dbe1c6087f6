"""How a certx client reaches Kafka, and as whom: the bootstrap servers and the security settings (SASL, TLS).

Every certx client (the services, `submit`, `tail`, the set-up) takes them the same way, so a user can point
any of them at a secured cluster:
- a client properties file, Java-style (`--kafka-config FILE` or `$CERTX_KAFKA_CONFIG`): `bootstrap.servers`,
  `security.protocol`, `sasl.mechanism`, and `sasl.jaas.config` (username="…" password="…") or
  librdkafka's `sasl.username`/`sasl.password`; TLS as `ssl.ca.location`, `ssl.certificate.location`,
  `ssl.key.location` (PEM files);
- environment variables, which override the file: `CERTX_KAFKA` (bootstrap), `CERTX_KAFKA_USER`,
  `CERTX_KAFKA_PASSWORD`, `CERTX_KAFKA_SECURITY_PROTOCOL`, `CERTX_KAFKA_SASL_MECHANISM`, `CERTX_KAFKA_CA_FILE`,
  `CERTX_KAFKA_CERT_FILE`, `CERTX_KAFKA_KEY_FILE`;
- `--bootstrap`, which overrides both.
A user name without a protocol means SASL_PLAINTEXT with SCRAM-SHA-512, as deploy/kafka.sh runs the broker.
`deploy/kafka.sh` writes a properties file for each development principal under `.cache/kafka/clients/`.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

DEFAULT_BOOTSTRAP = "127.0.0.1:9092"
# How long the broker holds a service's fetch that finds nothing. It answers as soon as data is committed, so this
# costs no latency; it sets how often an idle service asks: at 5 ms the idle gateway took 6% of a core and the
# matcher 4%, at 100 ms 1.5% and 1.2%, and their p99 at 2,000 commands/s was no worse (loadtest.kafka_latency).
IDLE_FETCH_WAIT_MS = 100
_JAAS = re.compile(r'(username|password)\s*=\s*"((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Connection:
    bootstrap: str = DEFAULT_BOOTSTRAP
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None

    @property
    def principal(self) -> str | None:
        """Who this client is on the broker (the SASL user name), if it authenticates."""
        return self.username

    def as_user(self, username: str, password: str) -> "Connection":
        protocol = self.security_protocol if "SASL" in self.security_protocol else "SASL_PLAINTEXT"
        return replace(self, username=username, password=password, security_protocol=protocol,
                       sasl_mechanism=self.sasl_mechanism or "SCRAM-SHA-512")

    def aiokafka(self) -> dict[str, Any]:
        """Keyword arguments for aiokafka's producer, consumer and admin client."""
        kw: dict[str, Any] = {"bootstrap_servers": self.bootstrap, "security_protocol": self.security_protocol}
        if "SASL" in self.security_protocol:
            kw.update(sasl_mechanism=self.sasl_mechanism or "SCRAM-SHA-512", sasl_plain_username=self.username,
                      sasl_plain_password=self.password)
        if "SSL" in self.security_protocol:
            from aiokafka.helpers import create_ssl_context

            kw["ssl_context"] = create_ssl_context(cafile=self.ca_file, certfile=self.cert_file,
                                                   keyfile=self.key_file)
        return kw

    def faststream(self) -> dict[str, Any]:
        """Keyword arguments for FastStream's KafkaBroker."""
        from faststream import security

        ssl = self.aiokafka().get("ssl_context")
        kinds = {"SCRAM-SHA-512": security.SASLScram512, "SCRAM-SHA-256": security.SASLScram256,
                 "PLAIN": security.SASLPlaintext}
        if "SASL" in self.security_protocol:
            sasl = kinds[self.sasl_mechanism or "SCRAM-SHA-512"]
            return {"security": sasl(self.username or "", self.password or "", ssl_context=ssl,
                                     use_ssl="SSL" in self.security_protocol)}
        return {"security": security.BaseSecurity(ssl_context=ssl)} if ssl else {}

    def librdkafka(self) -> dict[str, str]:
        """The same settings for a librdkafka client (confluent-kafka's admin client, kcat)."""
        conf = {"bootstrap.servers": self.bootstrap, "security.protocol": self.security_protocol}
        if "SASL" in self.security_protocol:
            conf.update({"sasl.mechanism": self.sasl_mechanism or "SCRAM-SHA-512",
                         "sasl.username": self.username or "", "sasl.password": self.password or ""})
        for key, value in (("ssl.ca.location", self.ca_file), ("ssl.certificate.location", self.cert_file),
                           ("ssl.key.location", self.key_file)):
            if value:
                conf[key] = value
        return conf

    def properties(self) -> str:
        """A Java-style client properties file for this connection (what `load` reads back)."""
        lines = [f"bootstrap.servers={self.bootstrap}", f"security.protocol={self.security_protocol}"]
        if "SASL" in self.security_protocol:
            module = "scram.ScramLoginModule" if "SCRAM" in (self.sasl_mechanism or "SCRAM") else "plain.PlainLoginModule"
            lines += [f"sasl.mechanism={self.sasl_mechanism or 'SCRAM-SHA-512'}",
                      f'sasl.jaas.config=org.apache.kafka.common.security.{module} required '
                      f'username="{self.username}" password="{self.password}";']
        return "\n".join(lines) + "\n"


class SettingsError(ValueError):
    """Settings that cannot be used: a missing or unreadable properties file, a bad value."""


def load(bootstrap: str | None = None, config: str | None = None, env: dict[str, str] | None = None) -> Connection:
    """The connection from a properties file, then the environment, then an explicit bootstrap."""
    env = os.environ if env is None else env
    settings: dict[str, Any] = {}
    path = config or env.get("CERTX_KAFKA_CONFIG")
    if path:
        settings.update(_read_properties(Path(path)))
    for variable, key in (("CERTX_KAFKA", "bootstrap"), ("CERTX_KAFKA_USER", "username"),
                          ("CERTX_KAFKA_PASSWORD", "password"),
                          ("CERTX_KAFKA_SECURITY_PROTOCOL", "security_protocol"),
                          ("CERTX_KAFKA_SASL_MECHANISM", "sasl_mechanism"), ("CERTX_KAFKA_CA_FILE", "ca_file"),
                          ("CERTX_KAFKA_CERT_FILE", "cert_file"), ("CERTX_KAFKA_KEY_FILE", "key_file")):
        if env.get(variable):
            settings[key] = env[variable]
    if bootstrap:
        settings["bootstrap"] = bootstrap
    if settings.get("username") and "security_protocol" not in settings:
        settings["security_protocol"] = "SASL_PLAINTEXT"
    if settings.get("username") and not settings.get("sasl_mechanism"):
        settings["sasl_mechanism"] = "SCRAM-SHA-512"
    return Connection(**settings)


def _read_properties(path: Path) -> dict[str, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsError(f"cannot read the Kafka client properties {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise SettingsError(f"the Kafka client properties {path} are not text (UTF-8)") from None
    props: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "!")) and "=" in line:
            key, _, value = line.partition("=")
            props[key.strip()] = value.strip()
    out: dict[str, str] = {}
    for key, field in (("bootstrap.servers", "bootstrap"), ("security.protocol", "security_protocol"),
                       ("sasl.mechanism", "sasl_mechanism"), ("sasl.username", "username"),
                       ("sasl.password", "password"), ("ssl.ca.location", "ca_file"),
                       ("ssl.certificate.location", "cert_file"), ("ssl.key.location", "key_file")):
        if props.get(key):
            out[field] = props[key]
    for key, value in _JAAS.findall(props.get("sasl.jaas.config", "")):
        out.setdefault(key, value.replace('\\"', '"'))
    return out
