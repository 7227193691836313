"""What the providers replace on: the input paths whose change makes Pulumi replace a resource, per type,
checked in each provider's source (`make diff` marks such a change as a replacement).
"""

from __future__ import annotations

import fnmatch
from typing import Sequence

InputPath = tuple  # an input path: keys (str) and list indices (int)

# terraform-provider-openstack v3.4.0 (what pulumi-openstack 5.5.x bridges): the `ForceNew: true`
# attributes of each resource schema, in Pulumi's names. Not here because they update in place:
# Instance flavorName/flavorId (a resize; replaced only if the old flavor no longer exists), name,
# metadata, imageName/imageId (a boot-from-volume instance takes its image from blockDevices);
# Volume size (extend) and volumeType (retype); Port fixedIps and securityGroupIds.
_OPENSTACK: dict[str, tuple[str, ...]] = {
    "compute/instance:Instance": (
        "userData", "availabilityZoneHints", "availabilityZone", "networkMode", "networks",
        "hypervisorHostname", "configDrive", "keyPair", "blockDevices", "schedulerHints",
    ),
    "compute/serverGroup:ServerGroup": ("name", "policies", "rules", "valueSpecs"),
    "compute/keypair:Keypair": ("name", "publicKey", "valueSpecs", "userId"),
    "compute/volumeAttach:VolumeAttach": ("instanceId", "volumeId", "multiattach", "tag", "vendorOptions"),
    "blockstorage/volume:Volume": (
        "availabilityZone", "snapshotId", "sourceVolId", "imageId", "backupId", "consistencyGroupId",
        "sourceReplica", "schedulerHints",
    ),
    "networking/network:Network": ("tenantId", "valueSpecs", "availabilityZoneHints", "transparentVlan"),
    "networking/subnet:Subnet": (
        "networkId", "cidr", "prefixLength", "tenantId", "ipVersion", "ipv6AddressMode", "ipv6RaMode",
        "subnetpoolId", "valueSpecs",
    ),
    "networking/port:Port": ("networkId", "macAddress", "tenantId", "deviceOwner", "deviceId", "valueSpecs"),
    "networking/router:Router": ("distributed", "tenantId", "valueSpecs", "availabilityZoneHints"),
    "networking/routerInterface:RouterInterface": ("routerId", "subnetId", "portId"),
    "networking/secGroup:SecGroup": ("tenantId", "deleteDefaultRules"),
    "networking/secGroupRule:SecGroupRule": (
        "description", "direction", "ethertype", "portRangeMin", "portRangeMax", "protocol", "remoteGroupId",
        "remoteIpPrefix", "remoteAddressGroupId", "securityGroupId", "tenantId",
    ),
    "networking/floatingIp:FloatingIp": ("address", "pool", "tenantId", "valueSpecs", "dnsName", "dnsDomain"),
    "networking/floatingIpAssociate:FloatingIpAssociate": ("floatingIp",),
    "loadbalancer/loadBalancer:LoadBalancer": (
        "vipNetworkId", "vipSubnetId", "vipPortId", "tenantId", "vipAddress", "flavorId", "loadbalancerProvider",
        "availabilityZone",
    ),
    "loadbalancer/listener:Listener": ("protocol", "protocolPort", "tenantId", "loadbalancerId"),
    "loadbalancer/pool:Pool": ("tenantId", "protocol", "loadbalancerId", "listenerId"),
    "loadbalancer/member:Member": ("tenantId", "address", "protocolPort", "subnetId", "poolId"),
    "loadbalancer/monitor:Monitor": ("poolId", "tenantId", "type"),
}

# pulumi-kubernetes provider/pkg/provider/diff.go (`forceNew`) and helm_release.go: every object is
# replaced when metadata.name or metadata.namespace changes, plus these per kind; a Release on
# name/namespace. Secrets (and ConfigMaps) are immutable by default: data changes replace them.
_SELECTOR = ("spec.selector",)
_CONTAINER = tuple(
    f"spec.{c}.{f}"
    for c in ("containers", "initContainers")
    for f in (
        "args", "command", "env", "image", "imagePullPolicy", "lifecycle", "livenessProbe", "ports",
        "readinessProbe", "resources", "securityContext", "stdin", "stdinOnce", "terminationMessagePath",
        "terminationMessagePolicy", "tty", "volumeDevices", "volumeMounts", "workingDir",
    )
)
_KUBERNETES: dict[str, tuple[str, ...]] = {
    "apps/v1:Deployment": _SELECTOR,
    "apps/v1:DaemonSet": _SELECTOR,
    "apps/v1:StatefulSet": (
        "spec.podManagementPolicy", "spec.revisionHistoryLimit", "spec.selector", "spec.serviceName",
        "spec.volumeClaimTemplates",
    ),
    "batch/v1:Job": ("spec.completions", "spec.parallelism", "spec.selector", "spec.template"),
    "core/v1:PersistentVolumeClaim": ("spec.accessModes", "spec.selector", "spec.storageClassName", "spec.volumeName"),
    "core/v1:PersistentVolume": tuple(
        f"spec.{v}"
        for v in (
            "awsElasticBlockStore", "azureDisk", "azureFile", "cephfs", "cinder", "csi", "fc", "flexVolume",
            "flocker", "gcePersistentDisk", "glusterfs", "hostPath", "iscsi", "local", "nfs",
            "photonPersistentDisk", "portworxVolume", "quobyte", "rbd", "scaleIO", "storageos", "vsphereVolume",
        )
    ),
    "core/v1:Pod": tuple(
        f"spec.{f}"
        for f in (
            "affinity", "automountServiceAccountToken", "dnsConfig", "dnsPolicy", "enableServiceLinks",
            "hostAliases", "hostIPC", "hostNetwork", "hostPID", "hostname", "imagePullSecrets", "nodeName",
            "nodeSelector", "overhead", "preemptionPolicy", "priority", "priorityClassName", "readinessGates",
            "restartPolicy", "runtimeClassName", "schedulerName", "securityContext", "serviceAccount",
            "serviceAccountName", "shareProcessNamespace", "subdomain", "terminationGracePeriodSeconds", "volumes",
        )
    )
    + _CONTAINER,
    "core/v1:ResourceQuota": ("spec.scopes",),
    "core/v1:Secret": ("type", "stringData", "data"),
    "core/v1:ConfigMap": ("data", "binaryData"),
    "core/v1:Service": ("spec.clusterIP",),
    "policy/v1beta1:PodDisruptionBudget": ("spec",),
    "rbac.authorization.k8s.io/v1:ClusterRoleBinding": ("roleRef",),
    "rbac.authorization.k8s.io/v1:RoleBinding": ("roleRef",),
    "storage.k8s.io/v1:StorageClass": ("parameters", "provisioner"),
}

# Everything else we use, checked in the provider's source: pulumi-command v1.2.1 (`triggers` carries
# `provider:"replaceOnChanges"`; other changes re-run `update`, else `create`, in place);
# terraform-provider-tls (RequiresReplace plan modifiers) and terraform-provider-random (every input
# RequiresReplace).
REPLACE_ON: dict[str, tuple[str, ...]] = {
    **{f"openstack:{k}": v for k, v in _OPENSTACK.items()},
    **{f"kubernetes:{k}": ("metadata.name", "metadata.namespace") + v for k, v in _KUBERNETES.items()},
    "kubernetes:helm.sh/v3:Release": ("name", "namespace"),
    "command:local:Command": ("triggers",),
    "command:remote:Command": ("triggers",),
    "command:remote:CopyToRemote": ("triggers",),
    "tls:index/privateKey:PrivateKey": ("algorithm", "rsaBits", "ecdsaCurve"),
    "tls:index/certRequest:CertRequest": ("*",),
    "random:*": ("*",),
}
# Inputs that never force a replacement although the type's table says "*".
IN_PLACE: dict[str, tuple[str, ...]] = {
    "tls:index/selfSignedCert:SelfSignedCert": ("earlyRenewalHours",),
    "tls:index/locallySignedCert:LocallySignedCert": ("earlyRenewalHours",),
}
REPLACE_ON.update({t: ("*",) for t in IN_PLACE})
_K8S_IDENTITY = ("metadata.name", "metadata.namespace")


def replace_paths(type_: str, options: Sequence[str] = ()) -> tuple[tuple[str, ...], ...]:
    """The input paths whose change makes Pulumi replace a resource of this type (plus its own option)."""
    rules: tuple[str, ...] = REPLACE_ON.get(type_) or next(
        (v for k, v in REPLACE_ON.items() if "*" in k and fnmatch.fnmatchcase(type_, k)), ()
    )
    if not rules and type_.startswith("kubernetes:") and type_.count(":") == 2:
        rules = _K8S_IDENTITY  # any other object, custom resources included
    return tuple(tuple(p.split(".")) if p != "*" else ("*",) for p in (*rules, *options))


def _keys(path: InputPath) -> tuple[str, ...]:
    return tuple(p for p in path if isinstance(p, str))


def is_replacement(type_: str, path: InputPath, options: Sequence[str] = ()) -> bool:
    keys = _keys(path)
    if keys and keys[0] in IN_PLACE.get(type_, ()):
        return False
    for rule in replace_paths(type_, options):
        if rule == ("*",):
            return True
        n = min(len(rule), len(keys))
        if rule[:n] == keys[:n]:
            return True
    return False
