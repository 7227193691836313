"""coprs-infra entry point: read and validate the stack config, build the layers, export outputs."""

import pulumi

from components.config import load_stack_config
from components.program import build

for key, value in build(load_stack_config()).items():
    pulumi.export(key, value)
