"""Spring Cloud Data Flow + Skipper: typed objects, configuration keys of the 2.11.5 sources, pods that pass
`restricted`, KEDA objects valid against KEDA 2.20.2's CRDs, and SCDF off without its data services.

PostgreSQL and Kafka serve SCDF's `Database` and `KafkaAccess` claims (Secrets in its namespace; KEDA's lag user's in
infra); Keycloak serves its `OidcClient`."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from components.platform.apps import scdf
from offline.audit import config_path, load_config, rule_config
from policies.coprs_policies.base import Res
from policies.coprs_policies.registry import BY_ID
from tests.components.platform.helpers import is_custom_resource, manifest, platform_run

NS = "processing"
STREAMS = {"rs-s1-preparation": {"deployment": "rs-s1-preparation-v1", "topic": "rs-s1.preparation",
                                 "consumerGroup": "rs-s1", "minReplicas": 1, "maxReplicas": 6, "lagThreshold": 50}}
OVERRIDES = {
    "coprs:platform.apps.scdf.settings.registry": {"host": "registry.coprs.example.org", "username": "coprs-pull"},
    "coprs:platform.apps.scdf.settings.streamApps": STREAMS,
    "coprs:nodeGroups.processing.taints": ["processing=true:NoSchedule"],  # the deployers must tolerate it
}


def run():
    return platform_run("prod", OVERRIDES)


def scdf_objects(result) -> list:
    return [r for r in result.resources if r.type.startswith("kubernetes:")
            and (r.inputs.get("metadata") or {}).get("namespace") == NS and r.urn.rpartition("::")[2].startswith("scdf-")
            and not r.type.endswith("NetworkPolicy") and not r.type.endswith("ApisixRoute")]


def objects_of(result, kind: str) -> dict[str, dict]:
    return {manifest(r)["metadata"]["name"]: manifest(r) for r in scdf_objects(result) if manifest(r)["kind"] == kind}


def configs(result) -> dict[str, dict]:
    return {n: yaml.safe_load(cm["data"]["application.yaml"]) for n, cm in objects_of(result, "ConfigMap").items()}


def flat(doc: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(doc, dict):
        out: dict[str, Any] = {}
        for k, v in doc.items():
            out.update(flat(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: doc}


def test_server_and_skipper_are_typed_objects_pinned_to_2_11_5():
    deployments = objects_of(run(), "Deployment")
    assert set(deployments) == {"scdf-server", "skipper"}
    images = {n: d["spec"]["template"]["spec"]["containers"][0]["image"] for n, d in deployments.items()}
    assert images == {"scdf-server": "springcloud/spring-cloud-dataflow-server:2.11.5",
                      "skipper": "springcloud/spring-cloud-skipper-server:2.11.5"}
    server = deployments["scdf-server"]["spec"]["template"]["spec"]["containers"][0]
    assert server["readinessProbe"]["httpGet"]["path"] == "/management/health/readiness"
    assert set(objects_of(run(), "Service")) == {"scdf-server", "skipper"}
    assert set(objects_of(run(), "ServiceAccount")) == {"scdf-server", "skipper", "scdf-apps"}


def test_every_object_validates_strictly():
    version = ".".join(run().config.cluster.kubernetes_version.split(".")[:2])
    objs = [r for r in scdf_objects(run()) if not is_custom_resource(r)]
    assert len(objs) >= 12
    for r in objs:
        kubernetes_validate.validate(manifest(r), version, strict=True)


def test_roles_are_exactly_what_the_deployers_need():
    roles = objects_of(run(), "Role")
    assert set(roles) == {"scdf-server", "skipper"}
    for role in roles.values():
        for rule in role["rules"]:
            assert "secrets" not in rule["resources"] and "*" not in rule["verbs"] + rule["resources"]
    creates_pods = {n for n, r in roles.items() for rule in r["rules"] if "pods" in rule["resources"] and "create" in rule["verbs"]}
    assert creates_pods == {"scdf-server"}  # tasks are pods; streams are Deployments
    bindings = objects_of(run(), "RoleBinding")
    assert {n: b["subjects"][0]["name"] for n, b in bindings.items()} == {"scdf-server": "scdf-server", "skipper": "skipper"}


def test_the_policy_allowances_are_as_narrow_as_the_roles():
    config = load_config(config_path("prod"))
    roles = {n: Res("kubernetes:rbac.authorization.k8s.io/v1:Role", r, n, f"urn:{n}") for n, r in objects_of(run(), "Role").items()}
    for rule_id in ("K-32", "K-33", "K-34", "K-35"):
        rule = BY_ID[rule_id]
        assert all(rule.evaluate(r, rule_config(rule, config)) == [] for r in roles.values()), rule_id

    def role(name: str, resources: list[str], verbs: list[str]) -> Res:
        props = {"metadata": {"name": name, "namespace": NS}, "rules": [{"apiGroups": [""], "resources": resources, "verbs": verbs}]}
        return Res("kubernetes:rbac.authorization.k8s.io/v1:Role", props, name, f"urn:{name}")

    k33, k34 = BY_ID["K-33"], BY_ID["K-34"]
    assert k33.evaluate(role("scdf-server", ["secrets"], ["get"]), rule_config(k33, config))  # no Secret reads for SCDF
    assert k34.evaluate(role("skipper", ["pods"], ["create"]), rule_config(k34, config))  # only the server creates pods
    assert k34.evaluate(role("scdf-server", ["pods"], ["create"]), rule_config(k34, config)) == []


# Configuration keys: every key we write, as spelled in the 2.11.5 sources (scdf-properties.md says where).
KNOWN_PREFIXES = (
    "spring.datasource.url", "spring.datasource.username", "spring.datasource.password", "spring.datasource.driver-class-name",
    "spring.cloud.dataflow.features.streams-enabled", "spring.cloud.dataflow.features.tasks-enabled",
    "spring.cloud.dataflow.features.schedules-enabled", "spring.cloud.dataflow.server.uri",
    "spring.cloud.skipper.client.server-uri",
    "spring.cloud.dataflow.application-properties.stream.", "spring.cloud.dataflow.application-properties.task.",
    "spring.cloud.dataflow.task.platform.kubernetes.accounts.default.",
    "spring.cloud.skipper.server.platform.kubernetes.accounts.default.",
    "spring.cloud.dataflow.security.authorization.provider-role-mappings.keycloak.map-oauth-scopes",
    "spring.cloud.dataflow.security.authorization.provider-role-mappings.keycloak.role-mappings.ROLE_",
    "spring.cloud.dataflow.container.registry-configurations.coprs.",
    "spring.security.oauth2.client.registration.keycloak.", "spring.security.oauth2.client.provider.keycloak.",
    "spring.security.oauth2.resourceserver.opaquetoken.",
    "management.metrics.export.prometheus.enabled", "management.endpoints.web.exposure.include",
)
DEPLOYER_KEYS = {"namespace", "deploymentServiceAccountName", "imagePullPolicy", "imagePullSecret", "requests", "limits",
                 "affinity", "tolerations", "podSecurityContext", "containerSecurityContext", "secretKeyRefs",
                 "volumes", "volumeMounts"}
REGISTRY_KEYS = {"registry-host", "authorization-type", "user", "secret"}


def test_configuration_parses_and_uses_the_2_11_5_property_names():
    docs = configs(run())
    assert set(docs) == {"scdf-server", "skipper"}
    for name, doc in docs.items():
        for key in flat(doc):
            assert key.startswith(KNOWN_PREFIXES), f"{name}: {key}"
    server, skipper = docs["scdf-server"], docs["skipper"]
    task = server["spring"]["cloud"]["dataflow"]["task"]["platform"]["kubernetes"]["accounts"]["default"]
    stream = skipper["spring"]["cloud"]["skipper"]["server"]["platform"]["kubernetes"]["accounts"]["default"]
    assert task == stream and set(task) == DEPLOYER_KEYS
    assert set(server["spring"]["cloud"]["dataflow"]["container"]["registry-configurations"]["coprs"]) == REGISTRY_KEYS
    roles = server["spring"]["cloud"]["dataflow"]["security"]["authorization"]["provider-role-mappings"]["keycloak"]["role-mappings"]
    assert roles == {f"ROLE_{s.split('.')[1].upper()}": s for s in scdf.SCOPES} and len(roles) == 7
    assert server["spring"]["security"]["oauth2"]["client"]["provider"]["keycloak"]["issuer-uri"] == \
        "https://iam.coprs.example.org/realms/coprs"


PLACEHOLDER = re.compile(r"\$\{([A-Z_]+)\}")


def test_no_literal_credential_every_placeholder_comes_from_a_secret():
    deployments = objects_of(run(), "Deployment")
    for name, doc in configs(run()).items():
        values = flat(doc)
        for key, value in values.items():
            if re.search(r"password|secret|jaas", key.split(".")[-1]) and key.split(".")[-1] not in ("imagePullSecret", "secretKeyRefs"):
                assert PLACEHOLDER.fullmatch(str(value)), f"{name}: {key} = {value!r}"
        env = {e["name"]: e for e in deployments[name]["spec"]["template"]["spec"]["containers"][0]["env"]}
        for var in {m for v in values.values() for m in PLACEHOLDER.findall(str(v))}:
            assert "secretKeyRef" in env[var]["valueFrom"], var
    server_env = {e["name"]: e["valueFrom"]["secretKeyRef"]["name"] for e in
                  deployments["scdf-server"]["spec"]["template"]["spec"]["containers"][0]["env"] if "valueFrom" in e
                  and "secretKeyRef" in e["valueFrom"]}
    assert server_env["DB_PASSWORD"] == "dataflow-postgresql" and server_env["OIDC_CLIENT_SECRET"] == "oidc-scdf"
    assert server_env["REGISTRY_PASSWORD"] == "scdf-registry"
    registry = objects_of(run(), "Secret")["scdf-registry"]
    assert registry["type"] == "kubernetes.io/dockerconfigjson"


def pod_from_deployer(props: dict) -> dict:
    """The pod the Kubernetes deployer builds for a stream or task app from the account's default properties."""
    return {
        "serviceAccountName": props["deploymentServiceAccountName"],
        "securityContext": props["podSecurityContext"],
        "affinity": props["affinity"],
        "tolerations": props["tolerations"],
        "imagePullSecrets": [{"name": props["imagePullSecret"]}],
        "volumes": props["volumes"],
        "containers": [{
            "name": "app", "image": "registry.coprs.example.org/rs-core/preparation:1.0.0",
            "imagePullPolicy": props["imagePullPolicy"],
            "securityContext": props["containerSecurityContext"],
            "resources": {"requests": props["requests"], "limits": props["limits"]},
            "env": [{"name": r["envVarName"], "valueFrom": {"secretKeyRef": {"name": r["secretName"], "key": r["dataKey"]}}}
                    for r in props["secretKeyRefs"]],
            "volumeMounts": props["volumeMounts"],
            "readinessProbe": {"httpGet": {"path": "/actuator/health", "port": 8080}},
            "livenessProbe": {"httpGet": {"path": "/actuator/health", "port": 8080}},
        }],
    }


def test_pods_the_deployers_create_pass_the_restricted_rules():
    doc = configs(run())["skipper"]
    props = doc["spring"]["cloud"]["skipper"]["server"]["platform"]["kubernetes"]["accounts"]["default"]
    assert props["requests"] == {"cpu": "500m", "memory": "1024Mi"} and props["limits"] == props["requests"]
    # the binder's brokers, SASL mechanism and JAAS config come from the claim's Secret (ours or the managed Kafka's)
    assert {(r["envVarName"], r["dataKey"]) for r in props["secretKeyRefs"] if r["secretName"] == "kafka-scdf"} == {
        ("SPRING_CLOUD_STREAM_KAFKA_BINDER_BROKERS", "bootstrap.servers"),
        ("SPRING_CLOUD_STREAM_KAFKA_BINDER_CONFIGURATION_SASL_MECHANISM", "sasl.mechanism"),
        ("SPRING_CLOUD_STREAM_KAFKA_BINDER_CONFIGURATION_SASL_JAAS_CONFIG", "sasl.jaas.config")}
    assert props["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0][
        "matchExpressions"] == [{"key": "node-role.kubernetes.io/processing", "operator": "Exists"}]
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "rs-s1-preparation-v1", "namespace": NS},
                  "spec": {"selector": {"matchLabels": {"app": "x"}}, "template": {
                      "metadata": {"labels": {"app": "x"}}, "spec": pod_from_deployer(props)}}}
    kubernetes_validate.validate(deployment, "1.35", strict=True)
    config = load_config(config_path("prod"))
    res = Res("kubernetes:apps/v1:Deployment", deployment, "rs-s1-preparation-v1", "urn:test")
    pod_rules = [BY_ID[f"K-{i:02d}"] for i in range(1, 20)]
    assert all(r.applies_to(res.type) for r in pod_rules)
    for rule in pod_rules:
        assert rule.evaluate(res, rule_config(rule, config)) == [], rule.rule_id
    # The rules do bite on this pod: without the security context, restricted rejects it.
    bare = {**deployment, "spec": {**deployment["spec"], "template": {"metadata": {}, "spec": {
        **pod_from_deployer(props), "securityContext": {}}}}}
    bare["spec"]["template"]["spec"]["containers"][0]["securityContext"] = {}
    assert BY_ID["K-15"].evaluate(Res(res.type, bare, res.name, res.urn), rule_config(BY_ID["K-15"], config))


def test_processing_taints_are_tolerated():
    r = run()
    props = configs(r)["skipper"]["spring"]["cloud"]["skipper"]["server"]["platform"]["kubernetes"]["accounts"]["default"]
    assert props["tolerations"] == [{"key": "processing", "operator": "Equal", "value": "true", "effect": "NoSchedule"}]


CRDS = Path("/work/charts/keda-2.20.2/templates/crds")


@lru_cache(maxsize=None)
def keda_schema(kind: str) -> dict:
    path = CRDS / f"crd-{kind.lower()}s.yaml"
    if not path.exists():
        pytest.skip(f"KEDA 2.20.2 chart not unpacked at {CRDS}")
    text = "\n".join(line for line in path.read_text().splitlines() if "{{" not in line)
    crd = yaml.safe_load(text)
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1"]
    return version["schema"]["openAPIV3Schema"]


def unknown_fields(value: Any, schema: dict, where: str = "") -> list[str]:
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return []
    if isinstance(value, dict) and "properties" in schema:
        out = [f"{where}.{k}" for k in value if k not in schema["properties"]]
        return out + [x for k, v in value.items() if k in schema["properties"]
                      for x in unknown_fields(v, schema["properties"][k], f"{where}.{k}")]
    if isinstance(value, list) and "items" in schema:
        return [x for i, v in enumerate(value) for x in unknown_fields(v, schema["items"], f"{where}[{i}]")]
    return []


def test_scaled_objects_are_valid_against_keda_2_20_2():
    result = run()
    crs = [manifest(r) for r in result.resources if is_custom_resource(r) and manifest(r)["apiVersion"] == "keda.sh/v1alpha1"
           and r.urn.rpartition("::")[2].startswith("scdf-")]
    kinds = {c["kind"]: c for c in crs}
    assert set(kinds) == {"ScaledObject", "ClusterTriggerAuthentication"}
    for cr in crs:
        schema = keda_schema(cr["kind"])
        body = {k: v for k, v in cr.items() if k != "metadata"}
        jsonschema.validate(body, schema)
        assert unknown_fields(body, schema) == []
    so = kinds["ScaledObject"]["spec"]
    assert so["scaleTargetRef"]["name"] == "rs-s1-preparation-v1" and (so["minReplicaCount"], so["maxReplicaCount"]) == (1, 6)
    assert so["triggers"][0]["metadata"]["lagThreshold"] == "50"
    assert so["triggers"][0]["authenticationRef"] == {"name": "scdf-kafka", "kind": "ClusterTriggerAuthentication"}
    refs = kinds["ClusterTriggerAuthentication"]["spec"]["secretTargetRef"]
    assert {r["parameter"]: r["name"] for r in refs} == {"sasl": "scdf-keda-kafka", "tls": "scdf-keda-kafka", "username":
                                                         "kafka-keda-scdf", "password": "kafka-keda-scdf", "ca": "kafka-keda-scdf"}
    # a cluster trigger authentication reads KEDA's namespace: both Secrets are there, and only the operator's
    # pods reach the brokers, as a user that may only describe topics and groups
    secrets = {(manifest(r)["metadata"]["namespace"], manifest(r)["metadata"]["name"]) for r in result.resources
               if r.type == "kubernetes:core/v1:Secret"}
    assert {("infra", "scdf-keda-kafka"), ("infra", "kafka-keda-scdf")} <= secrets
    from tests.components.platform.helpers import ancestors

    (cta,) = [r for r in result.resources if r.type.endswith(":ClusterTriggerAuthentication")]
    (lag,) = [r for r in result.resources if r.type == "kubernetes:core/v1:Secret"
              and manifest(r)["metadata"]["name"] == "kafka-keda-scdf"]
    assert lag.urn in ancestors(result, cta)  # it waits for the Secret it reads
    policies = {manifest(r)["metadata"]["name"]: manifest(r)["spec"] for r in result.resources
                if r.type.endswith("NetworkPolicy") and manifest(r)["metadata"]["namespace"] == "infra"}
    egress = policies["allow-kafka-client-kafka-keda-scdf-out"]
    assert egress["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "keda-operator"}}
    (user,) = [manifest(r) for r in result.resources if is_custom_resource(r) and manifest(r)["kind"] == "KafkaUser"
               and manifest(r)["metadata"]["name"] == "keda-scdf"]
    assert {tuple(a["operations"]) for a in user["spec"]["authorization"]["acls"]} == {("Describe",)}


def test_dashboard_route_without_gateway_oidc_and_flows():
    result = run()
    routes = [manifest(r) for r in result.resources if is_custom_resource(r) and manifest(r)["kind"] == "ApisixRoute"
              and manifest(r)["metadata"]["namespace"] == NS]
    (route,) = routes
    http = route["spec"]["http"][0]
    assert http["match"]["hosts"] == ["processing.coprs.example.org"]
    assert http["backends"] == [{"serviceName": "scdf-server", "servicePort": 8080}]
    assert "openid-connect" not in {p["name"] for p in http["plugins"]}
    egress = {manifest(r)["metadata"]["name"] for r in result.resources if r.type.endswith("NetworkPolicy")
              and manifest(r)["metadata"]["namespace"] == NS and "Egress" in manifest(r)["spec"]["policyTypes"]}
    assert {"allow-apiserver-out", "allow-scdf-oauth-registry-out"} <= egress
    monitors = {manifest(r)["metadata"]["name"] for r in scdf_objects(result) if manifest(r)["kind"] == "PodMonitor"}
    assert monitors in (set(), {"scdf-server", "skipper"})


@pytest.mark.parametrize("role_app", ["postgresql", "kafka"])
def test_without_postgresql_or_kafka_scdf_is_off_with_the_reason(role_app):
    r = platform_run("dev", {f"coprs:platform.apps.{role_app}.enabled": False})
    reason = r.outputs["platform"]["disabledApps"]["scdf"]
    assert reason == f"needs {'database' if role_app == 'postgresql' else 'kafka'}"
    assert not scdf_objects(r)


def test_stream_scaling_settings_are_checked():
    from components.config import ConfigError

    bad = {**OVERRIDES, "coprs:platform.apps.scdf.settings.streamApps": {
        "x": {**STREAMS["rs-s1-preparation"], "minReplicas": 9, "maxReplicas": 2}}}
    with pytest.raises(ConfigError, match=r"platform\.apps\.scdf\.settings\.streamApps"):
        platform_run("dev", bad)


def test_the_policy_pack_has_no_mandatory_finding_on_scdf():
    from offline.audit import audit

    report = audit(run(), load_config(config_path("prod")))
    ours = [f for f in report.findings if f.enforcement == "mandatory" and f.name and f.name.startswith("scdf-")]
    assert ours == []
    assert report.checked.get("K-16", 0) > 0
