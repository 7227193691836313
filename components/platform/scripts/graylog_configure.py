"""Graylog's runtime configuration, applied by a Job through the REST API (idempotent, in place).

Run with Python's standard library only. Environment:
  GRAYLOG_URL            e.g. http://graylog-svc.security.svc:9000
  GRAYLOG_USERNAME / GRAYLOG_PASSWORD   the root user
  GRAYLOG_SETTINGS       path of a JSON file: {"headerAuth": {"usernameHeader": ...},
                          "inputs": [{"title", "type", "configuration"}], "managedPrefix": "coprs: "}
  KAFKA_BOOTSTRAP, KAFKA_JAAS_CONFIG, KAFKA_CA_FILE   the KafkaUser's connection (SASL_SSL, SCRAM-SHA-512)
Inputs whose title starts with managedPrefix and that the settings no longer declare are removed;
nothing else is touched.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import time
import urllib.error
import urllib.request
from typing import Any, Optional

KAFKA_PLACEHOLDER = "$(kafka)"


class Api:
    def __init__(self, url: str, user: str, password: str, timeout: float = 10.0):
        self.url = url.rstrip("/")
        self.auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.timeout = timeout

    def call(self, method: str, path: str, body: Optional[Any] = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{self.url}{path}", data=data, method=method, headers={
            "Authorization": self.auth, "Accept": "application/json", "Content-Type": "application/json",
            "X-Requested-By": "coprs-graylog-config"})
        with urllib.request.urlopen(req, timeout=self.timeout) as resp:
            text = resp.read().decode()
            return json.loads(text) if text.strip() else None

    def wait(self, deadline: float) -> None:
        while True:
            try:
                self.call("GET", "/api/system/lbstatus")
                return
            except (urllib.error.URLError, OSError) as err:
                if time.monotonic() > deadline:
                    raise SystemExit(f"Graylog API not ready at {self.url}: {err}")
                time.sleep(5)


def kafka_properties(bootstrap: str, jaas: str, ca_pem: str) -> str:
    """Kafka client properties of a SASL_SSL + SCRAM-SHA-512 consumer with an inline PEM truststore."""
    pem = ca_pem.strip().replace("\n", "\\n")
    return "\n".join([
        "security.protocol=SASL_SSL",
        "sasl.mechanism=SCRAM-SHA-512",
        f"sasl.jaas.config={jaas.strip()}",
        "ssl.truststore.type=PEM",
        f"ssl.truststore.certificates={pem}",
        "ssl.endpoint.identification.algorithm=https",
    ])


def resolve(configuration: dict, kafka: dict[str, str]) -> dict:
    """Fill the Kafka placeholders of an input's configuration from the KafkaUser's Secret."""
    out = dict(configuration)
    if out.get("bootstrap_server") == KAFKA_PLACEHOLDER:
        out["bootstrap_server"] = kafka["bootstrap"]
    if out.get("custom_properties") == KAFKA_PLACEHOLDER:
        out["custom_properties"] = kafka_properties(kafka["bootstrap"], kafka["jaas"], kafka["ca"])
    return out


def apply(api: Api, settings: dict, kafka: dict[str, str]) -> list[str]:
    """Make Graylog match `settings`; returns what was done (one line per change)."""
    done: list[str] = []
    header = settings.get("headerAuth")
    if header is not None:
        want = {"enabled": True, "username_header": header["usernameHeader"]}
        have = api.call("GET", "/api/system/authentication/http-header-auth-config") or {}
        if {k: have.get(k) for k in want} != want:
            api.call("PUT", "/api/system/authentication/http-header-auth-config", want)
            done.append(f"trusted-header login on {want['username_header']}")
    prefix = settings["managedPrefix"]
    existing = {i["title"]: i for i in (api.call("GET", "/api/system/inputs") or {}).get("inputs", [])}
    declared = {i["title"] for i in settings["inputs"]}
    for spec in settings["inputs"]:
        if not spec["title"].startswith(prefix):
            raise SystemExit(f"input {spec['title']!r} must start with {prefix!r}")
        body = {"title": spec["title"], "type": spec["type"], "global": True,
                "configuration": resolve(spec["configuration"], kafka)}
        current = existing.get(spec["title"])
        if current is None:
            api.call("POST", "/api/system/inputs", body)
            done.append(f"created input {spec['title']}")
        elif current.get("type") != spec["type"] or current.get("attributes") != body["configuration"]:
            api.call("PUT", f"/api/system/inputs/{current['id']}", body)
            done.append(f"updated input {spec['title']}")
    for title, current in existing.items():
        if title.startswith(prefix) and title not in declared:
            api.call("DELETE", f"/api/system/inputs/{current['id']}")
            done.append(f"removed input {title}")
    return done


def main() -> int:
    env = os.environ
    api = Api(env["GRAYLOG_URL"], env["GRAYLOG_USERNAME"], env["GRAYLOG_PASSWORD"])
    with open(env["GRAYLOG_SETTINGS"]) as f:
        settings = json.load(f)
    kafka = {"bootstrap": env.get("KAFKA_BOOTSTRAP", ""), "jaas": env.get("KAFKA_JAAS_CONFIG", ""), "ca": ""}
    if env.get("KAFKA_CA_FILE"):
        with open(env["KAFKA_CA_FILE"]) as f:
            kafka["ca"] = f.read()
    api.wait(time.monotonic() + float(env.get("GRAYLOG_WAIT_SECONDS", "900")))
    for line in apply(api, settings, kafka) or ["nothing to change"]:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
