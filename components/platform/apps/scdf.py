"""Spring Cloud Data Flow 2.11.5 and Skipper 2.11.5 (processing): streams on Kafka, tasks, the dashboard.

No maintained chart exists (the last open-source release is 2.11.5): the server and Skipper are typed
Kubernetes objects, so the policy pack sees every pod spec. Property names are those of the 2.11.5 sources
(spring-cloud/spring-cloud-dataflow tag v2.11.5, which holds Skipper 2.11 too): SkipperClientProperties,
FeaturesProperties, CommonApplicationProperties, both KubernetesPlatformProperties, ContainerRegistryProperties /
ContainerRegistryConfiguration, META-INF/dataflow-server-defaults.yml and the docs' configuration*.adoc.

- images `springcloud/spring-cloud-dataflow-server:2.11.5` and `springcloud/spring-cloud-skipper-server:2.11.5`
  (src/kubernetes/{server,skipper}/*-deployment.yaml at the tag); configuration as `application.yaml` in a
  ConfigMap mounted at /workspace/config (the images' working directory), every credential as `${ENV}`
  placeholders whose variables come from Secrets;
- PostgreSQL databases `dataflow` and `skipper` (`Database` claims, TLS verify-full with the served CA);
- streams and tasks use the Kafka binder as SCDF's `KafkaUser` (`KafkaAccess("scdf")`, SASL_SSL SCRAM-SHA-512,
  the served CA as a PEM truststore); the server does its own OAuth2 against Keycloak (`OidcClient("scdf")`,
  scopes dataflow.* mapped to the seven ROLE_*, opaque-token introspection) — no OIDC plugin at the gateway;
- the Kubernetes deployer defaults (Skipper's for streams, the server's for tasks) give every pod they create
  a restricted pod and container security context, 500m/1024Mi, the processing node affinity and the taints
  of the `processing` node group, the image pull secret and the app service account `scdf-apps` (no RBAC);
- RBAC: Skipper may manage Deployments/StatefulSets/Services (streams) and read pods; the server may create
  pods and Jobs/CronJobs (tasks, schedules); neither reads Secrets;
- Micrometer Prometheus on the server and Skipper (`/management/prometheus`, `/actuator/prometheus`), scraped
  through PodMonitors (no rsocket proxy); stream and task apps get the prometheus endpoint exposed by the
  common application properties (their scrape is not declared yet);
- KEDA ScaledObjects on consumer-group lag for the stream apps named in `settings.streamApps`.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any, Optional

import pulumi
import pulumi_kubernetes as k8s
import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from ...config import NAMESPACE as CONFIG_NS, ConfigError, oidc_issuer
from ...config_types import DnsName, LabelKey, pattern
from ..app import App, AppContext, AppSettings, UiRoute, logical
from ..claims import Database, KafkaAccess, kafka_external
from ..flows import WORLD, Flow, Port, pods
from ..identity import SCDF_SCOPES, OidcClient
from ..placement import Resources, node_affinity, toleration
from .keda import NAMESPACE as KEDA_NAMESPACE, OPERATOR_PODS as KEDA_OPERATOR_PODS

NAMESPACE = "processing"
VERSION = "2.11.5"
SERVER = "scdf-server"
SKIPPER = "skipper"
APPS_ACCOUNT = "scdf-apps"  # what stream and task pods run as: no Role
SERVER_IMAGE = f"springcloud/spring-cloud-dataflow-server:{VERSION}"
SKIPPER_IMAGE = f"springcloud/spring-cloud-skipper-server:{VERSION}"
SERVER_PORT, SKIPPER_PORT = 8080, 7577
SERVER_PODS = {"app.kubernetes.io/name": SERVER}
SKIPPER_PODS = {"app.kubernetes.io/name": SKIPPER}
CONFIG_DIR = "/workspace/config"
DATABASE_CA_DIR = "/etc/scdf/database"
KAFKA_CA_DIR = "/etc/scdf/kafka"
REGISTRY_SECRET = "scdf-registry"
REGISTRY_PASSWORD_KEY = "scdfRegistryPassword"  # coprs:scdfRegistryPassword (secret config)
RUN_AS = 1001  # 2023: runAsUser 1001
OAUTH_PROVIDER = "keycloak"  # registration id of the Spring Security OAuth2 client
SCOPES = SCDF_SCOPES  # dataflow.{view,create,manage,deploy,destroy,modify,schedule}: one ROLE_* each
DEPLOYED_APP_RESOURCES = Resources("500m", "1024Mi", "500m", "1024Mi")  # 2023 deployer limits

DATABASES = (Database("dataflow", clients=tuple(SERVER_PODS.items())), Database("skipper", clients=tuple(SKIPPER_PODS.items())))
# Stream topics are named after streams and apps (`<stream>.<app>`), groups after streams: SCDF's user needs them all.
# The Kafka binder creates them (the brokers do not auto-create topics).
KAFKA = KafkaAccess("scdf", read=("*",), write=("*",), groups=("*",), create=("*",))
# KEDA's operator reads the stream apps' consumer lag with a user of its own that may only describe topics
# and groups; its Secret sits in KEDA's namespace, where a ClusterTriggerAuthentication reads it, and the
# claim's flow lets only the operator's pods reach the brokers (or the managed Kafka).
KEDA_LAG = KafkaAccess("keda-scdf", describe=("*",), namespace=KEDA_NAMESPACE, clients=tuple(KEDA_OPERATOR_PODS.items()))
# the Kafka scaler's `sasl` parameter per SASL mechanism
KEDA_SASL = {"SCRAM-SHA-512": "scram_sha512", "SCRAM-SHA-256": "scram_sha256", "PLAIN": "plaintext"}
OIDC = OidcClient(client_id="scdf", host="processing", redirect_paths=(f"/login/oauth2/code/{OAUTH_PROVIDER}",), scopes=SCOPES)

RegistryUser = pattern("a registry user name: letters, digits and . _ @ -", r"[A-Za-z0-9][A-Za-z0-9._@-]*", 255)
DnsLabel = pattern("a Kubernetes object name: lower-case letters, digits and '-'", r"[a-z0-9]([a-z0-9-]*[a-z0-9])?", 63)
KafkaName = pattern("a Kafka topic or group name: letters, digits and . _ -", r"[A-Za-z0-9._-]+", 249)


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


class RegistrySettings(_Model):
    """The container registry of the stream and task images (password: secret config coprs:scdfRegistryPassword)."""

    host: DnsName
    username: RegistryUser


class StreamScaling(_Model):
    """A stream app scaled by KEDA on its consumer group's lag on one topic."""

    deployment: DnsLabel  # the Deployment Skipper created, e.g. rs-s1-preparation-v1
    topic: KafkaName
    consumer_group: KafkaName
    min_replicas: int = Field(default=1, ge=0, le=100)
    max_replicas: int = Field(default=4, ge=1, le=100)
    lag_threshold: int = Field(default=100, ge=1, le=1_000_000)

    @model_validator(mode="after")
    def _bounds(self) -> "StreamScaling":
        if self.min_replicas > self.max_replicas:
            raise ValueError(f"minReplicas {self.min_replicas} must not exceed maxReplicas {self.max_replicas}")
        return self


class Settings(AppSettings):
    processing_node_label: LabelKey = "node-role.kubernetes.io/processing"
    processing_node_group: str = "processing"  # whose taints stream and task pods tolerate
    registry: Optional[RegistrySettings] = None
    stream_apps: dict[DnsLabel, StreamScaling] = {}  # type: ignore[valid-type]


# ---------------------------------------------------------------------------------------------------------
# shapes


def secret_env(name: str, secret: str, key: str) -> dict:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


POD_SECURITY = {"runAsNonRoot": True, "runAsUser": RUN_AS, "runAsGroup": RUN_AS, "fsGroup": RUN_AS,
                "seccompProfile": {"type": "RuntimeDefault"}}
CONTAINER_SECURITY = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "readOnlyRootFilesystem": True}

# The Kafka binder of stream and task apps: brokers, SASL mechanism and credentials from the claim's Secret (ours
# or the managed Kafka's, whose mechanism may differ), the CA as a PEM truststore.
KAFKA_ENV = (("SPRING_CLOUD_STREAM_KAFKA_BINDER_BROKERS", "bootstrap.servers"),
             ("SPRING_CLOUD_STREAM_KAFKA_BINDER_CONFIGURATION_SASL_MECHANISM", "sasl.mechanism"),
             ("SPRING_CLOUD_STREAM_KAFKA_BINDER_CONFIGURATION_SASL_JAAS_CONFIG", "sasl.jaas.config"))
BINDER = {
    "spring.cloud.stream.kafka.binder.configuration.security.protocol": "SASL_SSL",
    "spring.cloud.stream.kafka.binder.configuration.ssl.truststore.type": "PEM",
    "spring.cloud.stream.kafka.binder.configuration.ssl.truststore.location": f"{KAFKA_CA_DIR}/ca.crt",
}
APP_METRICS = {"management.endpoints.web.exposure.include": "health,info,prometheus",
               "management.metrics.export.prometheus.enabled": "true"}


def deployer_defaults(ctx: AppContext) -> dict[str, Any]:
    """The Kubernetes deployer's account properties (`...platform.kubernetes.accounts.default`) for the pods
    SCDF and Skipper create."""
    s: Settings = ctx.settings
    group = ctx.cfg.node_groups.get(s.processing_node_group)
    res = ctx.resources("deployed-apps", DEPLOYED_APP_RESOURCES)
    props: dict[str, Any] = {
        "namespace": ctx.namespace,
        "deploymentServiceAccountName": APPS_ACCOUNT,
        "imagePullPolicy": "Always",
        "requests": {"cpu": res.cpu, "memory": res.memory},
        "limits": {"cpu": res.cpu_limit or res.cpu, "memory": res.memory_limit or res.memory},
        "affinity": node_affinity(s.processing_node_label),
        "tolerations": [toleration(t) for t in (group.taints if group else ())],
        "podSecurityContext": POD_SECURITY,
        "containerSecurityContext": CONTAINER_SECURITY,
        "secretKeyRefs": [{"envVarName": env, "secretName": KAFKA.secret, "dataKey": key} for env, key in KAFKA_ENV],
        "volumes": [{"name": "kafka-ca", "secret": {"secretName": KAFKA.secret, "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                    {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}],
        "volumeMounts": [{"name": "kafka-ca", "mountPath": KAFKA_CA_DIR, "readOnly": True},
                         {"name": "tmp", "mountPath": "/tmp"}],
    }
    if s.registry:
        props["imagePullSecret"] = REGISTRY_SECRET
    return props


def datasource(db: Database) -> dict:
    return {
        "url": ("jdbc:postgresql://${DB_HOST}:${DB_PORT}/${DB_NAME}"
                f"?sslmode=verify-full&sslrootcert={DATABASE_CA_DIR}/ca.crt"),
        "username": "${DB_USER}",
        "password": "${DB_PASSWORD}",
        "driver-class-name": "org.postgresql.Driver",
    }


def database_env(db: Database) -> list[dict]:
    return [secret_env(env, db.secret, key) for env, key in
            (("DB_HOST", "host"), ("DB_PORT", "port"), ("DB_NAME", "dbname"), ("DB_USER", "user"), ("DB_PASSWORD", "password"))]


def metrics(base_path_exposed: str) -> dict:
    return {"metrics": {"export": {"prometheus": {"enabled": True}}},
            "endpoints": {"web": {"exposure": {"include": base_path_exposed}}}}


def server_config(ctx: AppContext) -> dict:
    issuer = oidc_issuer(ctx.cfg)
    s: Settings = ctx.settings
    dataflow: dict[str, Any] = {
        "features": {"streams-enabled": True, "tasks-enabled": True, "schedules-enabled": True},
        "server": {"uri": f"http://{SERVER}.{ctx.namespace}.svc:{SERVER_PORT}"},
        "application-properties": {"stream": {**BINDER, **APP_METRICS}, "task": {**BINDER, **APP_METRICS}},
        "task": {"platform": {"kubernetes": {"accounts": {"default": deployer_defaults(ctx)}}}},
        "security": {"authorization": {"provider-role-mappings": {OAUTH_PROVIDER: {
            "map-oauth-scopes": True,
            "role-mappings": {f"ROLE_{scope.split('.')[1].upper()}": scope for scope in SCOPES},
        }}}},
    }
    if s.registry:
        dataflow["container"] = {"registry-configurations": {"coprs": {
            "registry-host": s.registry.host, "authorization-type": "dockeroauth2",
            "user": "${REGISTRY_USER}", "secret": "${REGISTRY_PASSWORD}",
        }}}
    return {
        "spring": {
            "datasource": datasource(DATABASES[0]),
            "cloud": {"dataflow": dataflow,
                      "skipper": {"client": {"server-uri": f"http://{SKIPPER}.{ctx.namespace}.svc:{SKIPPER_PORT}/api"}}},
            "security": {"oauth2": {
                "client": {
                    "registration": {OAUTH_PROVIDER: {
                        "client-id": "${OIDC_CLIENT_ID}", "client-secret": "${OIDC_CLIENT_SECRET}",
                        "redirect-uri": "{baseUrl}/login/oauth2/code/{registrationId}",
                        "authorization-grant-type": "authorization_code",
                        "scope": ["openid", "profile", *SCOPES],
                    }},
                    "provider": {OAUTH_PROVIDER: {"issuer-uri": issuer, "user-name-attribute": "preferred_username"}},
                },
                "resourceserver": {"opaquetoken": {
                    "introspection-uri": f"{issuer}/protocol/openid-connect/token/introspect",
                    "client-id": "${OIDC_CLIENT_ID}", "client-secret": "${OIDC_CLIENT_SECRET}",
                }},
            }},
        },
        "management": metrics("health,info,prometheus"),
    }


def skipper_config(ctx: AppContext) -> dict:
    return {
        "spring": {
            "datasource": datasource(DATABASES[1]),
            "cloud": {"skipper": {"server": {"platform": {"kubernetes": {"accounts": {"default": deployer_defaults(ctx)}}}}}},
        },
        "management": metrics("health,info,prometheus"),
    }


# RBAC: exactly what each deployer does in the namespace it deploys to.
READ = ["get", "list", "watch"]
MANAGE = [*READ, "create", "delete", "update", "patch"]
SKIPPER_RULES = [
    {"apiGroups": [""], "resources": ["services", "persistentvolumeclaims"], "verbs": MANAGE},
    {"apiGroups": [""], "resources": ["pods", "pods/log", "replicationcontrollers"], "verbs": READ},
    {"apiGroups": ["apps"], "resources": ["deployments", "statefulsets"], "verbs": MANAGE},
    {"apiGroups": ["apps"], "resources": ["replicasets"], "verbs": READ},
]
SERVER_RULES = [
    {"apiGroups": [""], "resources": ["pods"], "verbs": [*READ, "create", "delete"]},
    {"apiGroups": [""], "resources": ["pods/log"], "verbs": READ},
    {"apiGroups": ["batch"], "resources": ["jobs", "cronjobs"], "verbs": MANAGE},
]


def validate(ctx: AppContext) -> None:
    s: Settings = ctx.settings
    if ctx.cfg.node_groups and s.processing_node_group not in ctx.cfg.node_groups:
        ctx.config_error("processingNodeGroup", s.processing_node_group,
                         f"a node group of the stack ({', '.join(sorted(ctx.cfg.node_groups))})")
    if s.stream_apps and not ctx.enabled("keda"):
        ctx.config_error("streamApps", sorted(s.stream_apps), "empty while the keda app is off (KEDA scales them)")


# ---------------------------------------------------------------------------------------------------------
# objects


def _labels(name: str) -> dict:
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "spring-cloud-dataflow",
            "app.kubernetes.io/version": VERSION}


def _registry_secret(ctx: AppContext, deps: list) -> k8s.core.v1.Secret:
    s: Settings = ctx.settings
    assert s.registry is not None
    password = pulumi.Config(CONFIG_NS).get_secret(REGISTRY_PASSWORD_KEY)
    if password is None:
        raise ConfigError([f"{CONFIG_NS}:{REGISTRY_PASSWORD_KEY} is required by scdf with settings.registry "
                           f"(pulumi config set --secret {CONFIG_NS}:{REGISTRY_PASSWORD_KEY} ...)"])
    host, user = s.registry.host, s.registry.username

    def dockerconfig(pw: str) -> str:
        auth = base64.b64encode(f"{user}:{pw}".encode()).decode()
        return json.dumps({"auths": {host: {"username": user, "password": pw, "auth": auth}}})

    return k8s.core.v1.Secret(
        logical("scdf", "secret", ctx.namespace, REGISTRY_SECRET),
        metadata={"name": REGISTRY_SECRET, "namespace": ctx.namespace, "labels": _labels(REGISTRY_SECRET)},
        type="kubernetes.io/dockerconfigjson",
        string_data={".dockerconfigjson": pulumi.Output.secret(password).apply(dockerconfig),
                     "username": user, "password": password},
        opts=ctx.opts(depends_on=tuple(deps)),
    )


def _rbac(ctx: AppContext, name: str, rules: list[dict], deps: list) -> list[pulumi.Resource]:
    ns = ctx.namespace
    sa = k8s.core.v1.ServiceAccount(logical("scdf", "sa", name), metadata={"name": name, "namespace": ns, "labels": _labels(name)},
                                    automount_service_account_token=True, opts=ctx.opts(depends_on=tuple(deps)))
    role = k8s.rbac.v1.Role(logical("scdf", "role", name), metadata={"name": name, "namespace": ns, "labels": _labels(name)},
                            rules=rules, opts=ctx.opts(depends_on=tuple(deps)))
    binding = k8s.rbac.v1.RoleBinding(
        logical("scdf", "rolebinding", name), metadata={"name": name, "namespace": ns, "labels": _labels(name)},
        role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        subjects=[{"kind": "ServiceAccount", "name": name, "namespace": ns}],
        opts=ctx.opts(depends_on=(role, sa)),
    )
    return [sa, role, binding]


def _server_env(ctx: AppContext) -> list[dict]:
    env = [
        {"name": "KUBERNETES_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "SPRING_CLOUD_CONFIG_ENABLED", "value": "false"},
        {"name": "SPRING_CLOUD_KUBERNETES_CONFIG_ENABLE_API", "value": "false"},
        {"name": "SPRING_CLOUD_KUBERNETES_SECRETS_ENABLE_API", "value": "false"},
        *database_env(DATABASES[0]),
        secret_env("OIDC_CLIENT_ID", OIDC.secret, "client-id"),
        secret_env("OIDC_CLIENT_SECRET", OIDC.secret, "client-secret"),
    ]
    if ctx.settings.registry:
        env += [secret_env("REGISTRY_USER", REGISTRY_SECRET, "username"),
                secret_env("REGISTRY_PASSWORD", REGISTRY_SECRET, "password")]
    return env


def _skipper_env(ctx: AppContext) -> list[dict]:
    return [
        {"name": "KUBERNETES_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "SPRING_CLOUD_CONFIG_ENABLED", "value": "false"},
        {"name": "SPRING_CLOUD_KUBERNETES_CONFIG_ENABLE_API", "value": "false"},
        {"name": "SPRING_CLOUD_KUBERNETES_SECRETS_ENABLE_API", "value": "false"},
        *database_env(DATABASES[1]),
    ]


def _probe(path: str, port: int, period: int) -> dict:
    return {"httpGet": {"path": path, "port": port}, "periodSeconds": period, "timeoutSeconds": 5}


def _deployment(ctx: AppContext, name: str, image: str, port: int, health: str, config: dict, env: list[dict],
                db: Database, deps: list) -> list[pulumi.Resource]:
    ns = ctx.namespace
    text = yaml.safe_dump(config, sort_keys=True)
    cm = k8s.core.v1.ConfigMap(logical("scdf", "config", name),
                               metadata={"name": name, "namespace": ns, "labels": _labels(name)},
                               data={"application.yaml": text}, opts=ctx.opts(depends_on=tuple(deps)))
    res = ctx.resources(name, Resources("500m", "1Gi", "1", "2Gi"))  # 2023: 500m/1Gi → 1/2Gi
    pod_labels = {**_labels(name)}
    container = {
        "name": name,
        "image": image,
        "imagePullPolicy": "Always",
        "ports": [{"name": "http", "containerPort": port}],
        "env": [*env, {"name": "JDK_JAVA_OPTIONS", "value": "-XX:MaxRAMPercentage=75 -Dfile.encoding=UTF-8"}],
        "resources": res.render(),
        "securityContext": CONTAINER_SECURITY,
        "startupProbe": {"tcpSocket": {"port": port}, "periodSeconds": 5, "failureThreshold": 60},
        "livenessProbe": _probe(f"{health}/liveness", port, 30),
        "readinessProbe": _probe(f"{health}/readiness", port, 10),
        "volumeMounts": [
            {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
            {"name": "database-ca", "mountPath": DATABASE_CA_DIR, "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }
    deployment = k8s.apps.v1.Deployment(
        logical("scdf", "deployment", name),
        metadata={"name": name, "namespace": ns, "labels": _labels(name)},
        spec={
            "replicas": ctx.replicas(1),
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "strategy": {"type": "Recreate"},  # schema migrations: one version at a time
            "template": {
                "metadata": {"labels": pod_labels, "annotations": {"coprs.eu/config-hash": _hash(text)}},
                "spec": {
                    "serviceAccountName": name,
                    "affinity": ctx.affinity(),
                    "securityContext": POD_SECURITY,
                    "containers": [container],
                    "volumes": [
                        {"name": "config", "configMap": {"name": name}},
                        {"name": "database-ca", "secret": {"secretName": db.secret, "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                        {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
                    ],
                },
            },
        },
        opts=ctx.opts(depends_on=(cm, *deps)),
    )
    service = k8s.core.v1.Service(
        logical("scdf", "service", name),
        metadata={"name": name, "namespace": ns, "labels": _labels(name)},
        spec={"selector": {"app.kubernetes.io/name": name}, "ports": [{"name": "http", "port": port, "targetPort": "http"}]},
        opts=ctx.opts(depends_on=tuple(deps)),
    )
    return [cm, deployment, service]


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def kafka_endpoint(cfg: Any) -> tuple[str, str]:
    """(bootstrap servers, SASL mechanism) of the Kafka the stream apps use: ours, or the managed one."""
    ext = kafka_external(cfg) or {}
    return ext.get("bootstrapServers") or KAFKA_BOOTSTRAP, ext.get("saslMechanism") or "SCRAM-SHA-512"


def scaled_objects(ctx: AppContext) -> None:
    """A ClusterTriggerAuthentication on KEDA's lag user and one ScaledObject per configured stream app."""
    s: Settings = ctx.settings
    if not s.stream_apps:
        return
    bootstrap, mechanism = kafka_endpoint(ctx.cfg)
    # The Kafka scaler reads the SASL mode and TLS switch as auth parameters (pkg/scalers/kafka_scaler.go
    # parseKafkaAuthParams): no credential, but a Secret is what a trigger authentication reads; a cluster one
    # reads the Secrets of KEDA's own namespace (KEDA_CLUSTER_OBJECT_NAMESPACE, the operator's by default).
    modes = k8s.core.v1.Secret(
        logical("scdf", "secret", KEDA_NAMESPACE, KEDA_MODES),
        metadata={"name": KEDA_MODES, "namespace": KEDA_NAMESPACE, "labels": _labels(KEDA_MODES)},
        type="Opaque", string_data={"sasl": KEDA_SASL[mechanism], "tls": "enable"}, opts=ctx.opts(namespace=KEDA_NAMESPACE))
    auth = ctx.custom_resource("scdf-kafka", "keda.sh/v1alpha1", "ClusterTriggerAuthentication", {"secretTargetRef": [
        {"parameter": "sasl", "name": KEDA_MODES, "key": "sasl"},
        {"parameter": "tls", "name": KEDA_MODES, "key": "tls"},
        {"parameter": "username", "name": KEDA_LAG.secret, "key": "username"},
        {"parameter": "password", "name": KEDA_LAG.secret, "key": "password"},
        {"parameter": "ca", "name": KEDA_LAG.secret, "key": "ca.crt"},
    ]}, cluster_scoped=True, depends_on=(modes,))
    for app, sc in sorted(s.stream_apps.items()):
        ctx.custom_resource(app, "keda.sh/v1alpha1", "ScaledObject", {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": sc.deployment},
            "minReplicaCount": sc.min_replicas,
            "maxReplicaCount": sc.max_replicas,
            "triggers": [{
                "type": "kafka",
                "metadata": {"bootstrapServers": bootstrap, "consumerGroup": sc.consumer_group, "topic": sc.topic,
                             "lagThreshold": str(sc.lag_threshold)},
                "authenticationRef": {"name": "scdf-kafka", "kind": "ClusterTriggerAuthentication"},
            }],
        }, depends_on=(auth,))


KEDA_MODES = "scdf-keda-kafka"
KAFKA_BOOTSTRAP = "kafka-kafka-bootstrap.infra.svc:9093"  # the Strimzi cluster `kafka` in `infra`


def objects(ctx: AppContext) -> None:
    deps: list = list(ctx.registry.served(ctx.app.name))
    if ctx.settings.registry:
        deps.append(_registry_secret(ctx, deps))
    k8s.core.v1.ServiceAccount(logical("scdf", "sa", APPS_ACCOUNT),
                               metadata={"name": APPS_ACCOUNT, "namespace": ctx.namespace, "labels": _labels(APPS_ACCOUNT)},
                               automount_service_account_token=False, opts=ctx.opts())
    skipper_rbac = _rbac(ctx, SKIPPER, SKIPPER_RULES, deps)
    skipper = _deployment(ctx, SKIPPER, SKIPPER_IMAGE, SKIPPER_PORT, "/actuator/health", skipper_config(ctx),
                          _skipper_env(ctx), DATABASES[1], [*deps, *skipper_rbac])
    server_rbac = _rbac(ctx, SERVER, SERVER_RULES, deps)
    _deployment(ctx, SERVER, SERVER_IMAGE, SERVER_PORT, "/management/health", server_config(ctx),
                _server_env(ctx), DATABASES[0], [*deps, *server_rbac, skipper[2]])
    ctx.monitor(SERVER, SERVER_PODS, {"port": "http", "path": "/management/prometheus", "interval": "2m"})
    ctx.monitor(SKIPPER, SKIPPER_PODS, {"port": "http", "path": "/actuator/prometheus", "interval": "2m"})
    if ctx.enabled("keda"):
        scaled_objects(ctx)


APP = App(
    name="scdf",
    namespace=NAMESPACE,
    claims=(*DATABASES, KAFKA, KEDA_LAG, OIDC),
    optional=("keda",),
    settings=Settings,
    validate=validate,
    objects=objects,
    routes=(UiRoute(host="processing", service=SERVER, port=SERVER_PORT, oidc_client=None),),
    flows=(
        # The issuer https://iam.<domain> and the container registry are reached at their public addresses.
        Flow("scdf-oauth-registry", pods(NAMESPACE, SERVER_PODS), WORLD, (Port(443),),
             "Keycloak (OAuth2 login, token introspection) and the container registry (image metadata)"),
    ),
    description="Spring Cloud Data Flow + Skipper (streams and tasks)",
)
