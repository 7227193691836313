"""coprs-infra: the Copernicus Reference System platform as a Pulumi program."""
