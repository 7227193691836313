"""The coprs-security CrossGuard pack: `pulumi preview --policy-pack policies --policy-pack-config policies/config/<stack>.json`.

Only builds the pack (PolicyPack starts the analyzer server); the rules live in `coprs_policies`.
"""

from pulumi_policy import EnforcementLevel, PolicyPack

from coprs_policies.registry import PACK_DESCRIPTION, PACK_NAME, RULES

PolicyPack(PACK_NAME, RULES, enforcement_level=EnforcementLevel.ADVISORY, description=PACK_DESCRIPTION)
