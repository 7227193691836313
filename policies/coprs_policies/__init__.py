"""The rules of the coprs-security pack, one module per domain; `registry.RULES` lists them all."""
