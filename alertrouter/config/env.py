"""`${ENV_VAR}` references in routing.yaml: the pattern and how a value is filled in.

Secrets are written as references; a channel resolves its own when it is built."""

from __future__ import annotations

import os
import re
import typing

ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def resolve_env(value: str, env: typing.Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    return ENV_REF.sub(lambda m: env.get(m.group(1), ""), value)

