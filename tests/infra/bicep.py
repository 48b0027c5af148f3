"""Reading infra/*.bicep through pycep-parser, and following app-setting objects through variables,
union(), conditionals and module parameters (the Bicep compiler is not available here)."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

from pycep import BicepParser

from tests.conftest import ROOT

INFRA = ROOT / "infra"


def bicep_files() -> list[Path]:
    return sorted(INFRA.rglob("*.bicep"))


@functools.lru_cache(maxsize=None)
def parse(path: Path) -> dict:
    return BicepParser().parse(text=path.read_text(encoding="utf-8"))


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def body(resource_or_module: dict) -> dict:
    """The body of a resource or module: loops and `if (...)` nest it under config.config."""
    config = resource_or_module["config"]
    while isinstance(config, dict) and "config" in config and ("condition" in config or "loop_type" in config):
        config = config["config"]
    return config


def condition(resource_or_module: dict):
    config = resource_or_module["config"]
    return config.get("condition") if isinstance(config, dict) else None


def resources(path: Path, rtype: str | None = None) -> dict[str, dict]:
    found = {n: r for n, r in parse(path).get("resources", {}).items() if not r.get("existing")}
    return {n: r for n, r in found.items() if rtype is None or r["type"] == rtype}


def all_resources(rtype: str) -> list[tuple[Path, str, dict]]:
    return [(p, n, r) for p in bicep_files() for n, r in resources(p, rtype).items()]


def module_path(caller: Path, module: dict) -> Path:
    return (caller.parent / module["detail"]["path"]).resolve()


def is_secure(param: dict) -> bool:
    return any(d.get("type") == "secure" for d in param.get("decorators", []))


def mentions(expr, name: str) -> bool:
    """Whether an expression (parsed, or an interpolated string) refers to `name`."""
    text = json.dumps(expr)
    return any(f"{pre}{name}{post}" in text for pre in ('"', "{", "(") for post in ('"', ".", ")", "}", ","))


def interpolations(text: str) -> set[str]:
    """Identifiers named in ${...} inside a Bicep string pycep kept as text."""
    out, i = set(), 0
    while (i := text.find("${", i)) >= 0:
        j, depth = i + 2, 1
        while depth and j < len(text):
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        out.add(text[i + 2 : j - 1])
        i = j
    return out


@dataclass(frozen=True)
class Scope:
    """A file, and (for a module) the caller's parameter expressions and scope."""

    path: Path
    args: dict | None = None
    caller: "Scope | None" = None


@dataclass
class Setting:
    name: str
    value: object          # parsed expression
    scope: Scope           # where the value is written
    conditional: bool      # written only in some deployments


def object_entries(expr, scope: Scope, conditional: bool = False):
    """Every (name, value) an object expression can hold: literals, union(), a ? b : c, variables,
    module parameters (followed into the caller)."""
    parsed = parse(scope.path)
    if isinstance(expr, str):
        if expr in parsed.get("variables", {}):
            yield from object_entries(parsed["variables"][expr]["value"], scope, conditional)
            return
        if expr in parsed.get("parameters", {}) and scope.args is not None and expr in scope.args:
            yield from object_entries(scope.args[expr], scope.caller, conditional)
            return
        raise AssertionError(f"{rel(scope.path)}: cannot follow {expr!r} to an object")
    if isinstance(expr, dict) and set(expr) == {"function"}:
        fn = expr["function"]
        assert fn["type"] == "union", f"{rel(scope.path)}: unexpected {fn['type']}() in app settings"
        for arg in fn["parameters"].values():
            yield from object_entries(arg, scope, conditional)
        return
    if isinstance(expr, dict) and set(expr) == {"operator"}:
        op = expr["operator"]
        assert op["type"] == "conditional", f"{rel(scope.path)}: unexpected {op['type']} in app settings"
        yield from object_entries(op["operands"]["true_value"], scope, True)
        yield from object_entries(op["operands"]["false_value"], scope, True)
        return
    assert isinstance(expr, dict), f"{rel(scope.path)}: {expr!r} is not an object"
    for key, value in expr.items():
        yield Setting(key.strip("'"), value, scope, conditional)


def module_scope(caller: Path, module_name: str) -> Scope:
    module = parse(caller)["modules"][module_name]
    return Scope(module_path(caller, module), body(module)["params"], Scope(caller))


def app_settings() -> list[Setting]:
    """What the Function app's `appsettings` config resource writes, followed from main.bicep."""
    main = INFRA / "main.bicep"
    callers = [n for n, m in parse(main)["modules"].items()
               if resources(module_path(main, m), "Microsoft.Web/sites/config")]
    assert len(callers) == 1, f"one module writes the app settings, found {callers}"
    scope = module_scope(main, callers[0])
    (config,) = resources(scope.path, "Microsoft.Web/sites/config").values()
    assert body(config)["name"] == "appsettings"
    return list(object_entries(body(config)["properties"], scope))
