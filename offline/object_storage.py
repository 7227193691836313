"""`make plan` section: the buckets (protected or not), where backups go, and which backups are declared."""

from __future__ import annotations

from typing import Any

from components.storage.backups import declared_backups, missing_backups

from .recorded import RunResult

BUCKET = "pulumi-python:dynamic/storage:Bucket"
RELEASE = "kubernetes:helm.sh/v3:Release"


def backup_locations(result: RunResult) -> list[dict[str, Any]]:
    """Velero BackupStorageLocations from the Velero release's values."""
    out = []
    for r in result.of_type(RELEASE):
        if r.inputs.get("chart") != "velero":
            continue
        for bsl in ((r.inputs.get("values") or {}).get("configuration") or {}).get("backupStorageLocation") or []:
            cfg = bsl.get("config") or {}
            out.append({"name": bsl.get("name"), "bucket": bsl.get("bucket"), "prefix": bsl.get("prefix"),
                        "s3Url": cfg.get("s3Url"), "region": cfg.get("region"),
                        "s3ForcePathStyle": cfg.get("s3ForcePathStyle"), "release": r.urn})
    return out


def plan_section(result: RunResult, plan: dict[str, Any]) -> list[str]:
    """Adds `objectStorage` to the plan JSON; returns the summary lines."""
    buckets = [
        {"bucket": r.inputs["bucket"], "endpoint": r.inputs["endpoint"], "protect": r.protect,
         "versioning": r.inputs.get("versioning"), "forceDestroy": r.inputs.get("forceDestroy"),
         "lifecycle": r.inputs.get("lifecycle"), "urn": r.urn}
        for r in result.of_type(BUCKET)
    ]
    locations = backup_locations(result)
    declared = sorted(declared_backups(result.resources))
    missing = missing_backups(result.resources)
    plan["objectStorage"] = {"buckets": buckets, "backupStorageLocations": locations,
                             "backups": declared, "missingBackups": missing}
    lines = [f"Object storage: {len(buckets)} buckets at {buckets[0]['endpoint']}" if buckets
             else "Object storage: no buckets (coprs:objectStorage not set)"]
    for b in buckets:
        days = (b["lifecycle"] or {}).get("noncurrentVersionExpirationDays")
        flags = ["protected" if b["protect"] else "NOT protected", "versioned" if b["versioning"] else "unversioned",
                 f"old versions {int(days)}d" if days else "old versions kept"]
        if b["forceDestroy"]:
            flags.append("forceDestroy")
        lines.append(f"  {b['bucket']:<32} {', '.join(flags)}")
    for loc in locations:
        lines.append(f"  backup storage location {loc['name']}: s3://{loc['bucket']}/{loc['prefix'] or ''} "
                     f"via {loc['s3Url']} (path style {loc['s3ForcePathStyle']})")
    if not locations:
        lines.append("  backup storage location: none (Velero not deployed)")
    lines.append(f"  backups declared: {', '.join(declared) or 'none'}"
                 + (f"; MISSING for {', '.join(missing)}" if missing else ""))
    return lines
