"""Graylog: claims of the data services, generated secrets, trusted header only from the gateway, the
configuration Job (against a local fake of Graylog's API), images pinned."""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from components.platform.apps import graylog
from components.platform.scripts import graylog_configure as configure
from tests.components.platform.apps.test_keycloak import realm_of
from tests.components.platform.helpers import releases, served_run

ROUTE = "kubernetes:apisix.apache.org/v2:ApisixRoute"


@pytest.fixture(scope="module")
def run():
    return served_run("dev")


def test_graylog_is_served_by_the_data_services(dev):
    assert "graylog" not in dev.outputs["platform"]["disabledApps"]  # issue 12's kafka and mongodb serve it
    assert "graylog" in releases(dev)


def test_release_values(run):
    v = releases(run)["graylog"].inputs["values"]
    assert v["graylog"]["enterprise"] is False
    assert v["graylog"]["image"] == {"repository": "graylog/graylog", "tag": graylog.VERSION}
    assert v["datanode"]["image"] == {"repository": "graylog/graylog-datanode", "tag": graylog.VERSION}
    assert graylog.VERSION.count(".") == 2  # a release, not the moving minor tag
    assert v["mongodb"]["communityResource"]["enabled"] is False
    assert v["global"]["existingSecretName"] == graylog.SECRET
    env = {e["name"]: e for e in v["graylog"]["extraEnv"]}
    uri = {"secretKeyRef": {"name": "mongodb-graylog", "key": "uri"}}
    assert env["GRAYLOG_MONGODB_URI"]["valueFrom"] == uri
    assert v["datanode"]["extraEnv"] == [{"name": "GRAYLOG_DATANODE_MONGODB_URI", "valueFrom": uri}]
    assert env["GRAYLOG_PROMETHEUS_EXPORTER_BIND_ADDRESS"]["value"] == "0.0.0.0:9833"
    assert env["GRAYLOG_HTTP_EXTERNAL_URI"]["value"] == f"https://security.{run.config.domain}/"
    assert "rootPassword" not in v["graylog"]["config"]


def test_secrets_are_generated(run):
    secrets = {s.inputs["metadata"]["name"]: s.inputs["stringData"] for s in run.of_type("kubernetes:core/v1:Secret")
               if s.inputs["metadata"]["namespace"] == "security"}
    chart, admin = secrets[graylog.SECRET], secrets[graylog.ADMIN_SECRET]
    assert chart["GRAYLOG_ROOT_PASSWORD_SHA2"] == hashlib.sha256(admin["password"].encode()).hexdigest()
    generated = {r.outputs.get("result") for r in run.of_type("random:index/randomPassword:RandomPassword")}
    assert chart["GRAYLOG_PASSWORD_SECRET"] in generated and admin["password"] in generated


def test_trusted_header_only_from_the_gateway(run):
    env = {e["name"]: e for e in releases(run)["graylog"].inputs["values"]["graylog"]["extraEnv"]}
    assert env["GRAYLOG_TRUSTED_PROXIES"]["value"] == "127.0.0.1/32"  # meshed: the local proxy only
    specs = {r.type.rsplit(":", 1)[1]: r.inputs["spec"] for r in run.of_type(
        "kubernetes:policy.linkerd.io/v1alpha1:MeshTLSAuthentication", "kubernetes:policy.linkerd.io/v1beta3:Server")
        if r.inputs["metadata"]["name"] == "graylog-web"}
    assert specs["Server"] == {"podSelector": {"matchLabels": graylog.SERVER_PODS}, "port": graylog.WEB_PORT}
    # the sources allowed on the web port: the gateway's pods (their identity), Graylog's own nodes, the Job
    assert specs["MeshTLSAuthentication"]["identityRefs"] == [
        {"kind": "ServiceAccount", "name": "apisix-gateway", "namespace": "networking"},
        {"kind": "ServiceAccount", "name": graylog.SERVICE_ACCOUNT, "namespace": "security"},
        {"kind": "ServiceAccount", "name": graylog.CONFIG_JOB, "namespace": "security"},
    ]
    [route] = [r for r in run.of_type(ROUTE) if r.inputs["metadata"]["name"] == "security"]
    plugins = {p["name"]: p for p in route.inputs["spec"]["http"][0]["plugins"]}
    assert plugins["openid-connect"]["config"]["client_id"] == "graylog"
    fn = plugins["serverless-post-function"]["config"]["functions"][0]
    assert "set_header(ctx, 'Remote-User', user.preferred_username" in fn
    realm, _ = realm_of(run)
    [client] = [c for c in realm["clients"] if c["clientId"] == "graylog"]
    assert client["redirectUris"] == [f"https://security.{run.config.domain}/redirect_uri"]


def test_configuration_job(run):
    [job] = [j for j in run.of_type("kubernetes:batch/v1:Job") if j.inputs["metadata"]["name"].startswith(graylog.CONFIG_JOB + "-")]
    spec = job.inputs["spec"]["template"]["spec"]
    [c] = spec["containers"]
    env = {e["name"]: e for e in c["env"]}
    assert env["KAFKA_JAAS_CONFIG"]["valueFrom"]["secretKeyRef"] == {"name": "kafka-graylog", "key": "sasl.jaas.config"}
    assert env["GRAYLOG_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == graylog.ADMIN_SECRET
    assert spec["serviceAccountName"] == graylog.CONFIG_JOB and c["securityContext"]["allowPrivilegeEscalation"] is False
    [cm] = [m for m in run.of_type("kubernetes:core/v1:ConfigMap") if m.inputs["metadata"]["name"] == graylog.CONFIG_JOB]
    assert cm.inputs["data"]["configure.py"] == graylog.SCRIPT.read_text()
    settings = json.loads(cm.inputs["data"]["settings.json"])
    [kafka] = settings["inputs"]
    assert kafka["configuration"]["topic_filter"] == r"^(fluentbit\.falco|fluentbit\.keycloak|fluentbit\.ingress|" \
                                                     r"fluentbit\.auditd|fluentbit\.wazuh)$"
    assert kafka["configuration"]["threads"] == 2 and kafka["configuration"]["group_id"] == "graylog"
    assert job.inputs["metadata"]["name"].startswith("graylog-config-") and job.delete_before_replace


def test_backup_is_declared(run):
    [s] = [s for s in run.of_type("kubernetes:velero.io/v1:Schedule")
           if s.inputs["metadata"]["labels"].get("backup.coprs.esa.int/app") == "graylog"]
    assert s.inputs["spec"]["template"]["includedNamespaces"] == ["security"]


# ---------------------------------------------------------------------------------------------
# the configuration script against a fake Graylog API on 127.0.0.1


class FakeGraylog(BaseHTTPRequestHandler):
    state: dict = {}

    def log_message(self, *args) -> None:  # quiet
        pass

    def _reply(self, code: int, body=None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(n)) if n else None

    def _authorized(self) -> bool:
        ok = self.headers.get("Authorization", "").startswith("Basic ")
        if self.command != "GET":
            ok = ok and bool(self.headers.get("X-Requested-By"))
        if not ok:
            self._reply(401)
        return ok

    def do_GET(self):
        if not self._authorized():
            return
        s = self.state
        if self.path == "/api/system/lbstatus":
            return self._reply(200, {"status": "ALIVE"})
        if self.path == "/api/system/authentication/http-header-auth-config":
            return self._reply(200, s["header"])
        if self.path == "/api/system/inputs":
            return self._reply(200, {"inputs": list(s["inputs"].values()), "total": len(s["inputs"])})
        self._reply(404)

    def do_PUT(self):
        if not self._authorized():
            return
        s, body = self.state, self._body()
        s["calls"].append(("PUT", self.path))
        if self.path == "/api/system/authentication/http-header-auth-config":
            s["header"] = body
            return self._reply(200, body)
        _, _, ident = self.path.rpartition("/")
        s["inputs"][ident] = {"id": ident, "title": body["title"], "type": body["type"], "attributes": body["configuration"]}
        self._reply(201, {"id": ident})

    def do_POST(self):
        if not self._authorized():
            return
        s, body = self.state, self._body()
        s["calls"].append(("POST", self.path))
        ident = f"i{len(s['inputs']) + 1}"
        s["inputs"][ident] = {"id": ident, "title": body["title"], "type": body["type"], "attributes": body["configuration"]}
        self._reply(201, {"id": ident})

    def do_DELETE(self):
        if not self._authorized():
            return
        self.state["calls"].append(("DELETE", self.path))
        self.state["inputs"].pop(self.path.rpartition("/")[2], None)
        self._reply(204)


@pytest.fixture
def fake_api():
    FakeGraylog.state = {"header": {"enabled": False, "username_header": "Remote-User"}, "calls": [],
                         "inputs": {"x1": {"id": "x1", "title": "hand-made input", "type": "gelf", "attributes": {}},
                                    "x2": {"id": "x2", "title": "coprs: old topics", "type": "raw", "attributes": {}}}}
    server = HTTPServer(("127.0.0.1", 0), FakeGraylog)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield configure.Api(f"http://127.0.0.1:{server.server_port}", "admin", "pw", timeout=5), FakeGraylog.state
    server.shutdown()
    server.server_close()


def test_configure_applies_in_place_and_is_idempotent(fake_api, run):
    api, state = fake_api
    [cm] = [m for m in run.of_type("kubernetes:core/v1:ConfigMap") if m.inputs["metadata"]["name"] == graylog.CONFIG_JOB]
    settings = json.loads(cm.inputs["data"]["settings.json"])
    kafka = {"bootstrap": "kafka-kafka-bootstrap.infra.svc:9093",
             "jaas": 'org.apache.kafka.common.security.scram.ScramLoginModule required username="graylog" password="p";',
             "ca": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"}
    api.wait(deadline=float("inf"))
    done = configure.apply(api, settings, kafka)
    assert done == ["trusted-header login on Remote-User", "created input coprs: security topics",
                    "removed input coprs: old topics"]
    assert state["header"] == {"enabled": True, "username_header": "Remote-User"}
    created = next(i for i in state["inputs"].values() if i["title"] == "coprs: security topics")
    props = created["attributes"]["custom_properties"].splitlines()
    assert "security.protocol=SASL_SSL" in props and "sasl.mechanism=SCRAM-SHA-512" in props
    assert "ssl.truststore.certificates=-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----" in props
    assert created["attributes"]["bootstrap_server"] == kafka["bootstrap"]
    assert "hand-made input" in {i["title"] for i in state["inputs"].values()}  # never touches the rest
    # a second run changes nothing
    state["calls"].clear()
    assert configure.apply(api, settings, kafka) == []
    assert state["calls"] == []


def test_configure_refuses_an_unmanaged_title(fake_api):
    api, _ = fake_api
    with pytest.raises(SystemExit, match="must start with"):
        configure.apply(api, {"managedPrefix": "coprs: ", "inputs": [{"title": "x", "type": "t", "configuration": {}}]},
                        {"bootstrap": "", "jaas": "", "ca": ""})
