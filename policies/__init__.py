"""The coprs-security policy pack (Pulumi CrossGuard); `policies.coprs_policies` holds the rules."""
