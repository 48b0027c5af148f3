"""azure.yaml: valid against azd's published schema (vendored), one Python Functions service at the
repository root, and the postdeploy hook that runs stage 2 (infra/connect.bicep)."""

from __future__ import annotations

import json
from pathlib import Path

from jsonschema import Draft201909Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT201909
from ruamel.yaml import YAML

from tests.conftest import ROOT

SCHEMA = Path(__file__).resolve().parent / "azure.yaml.schema.json"


def azure_yaml() -> dict:
    return YAML(typ="safe").load((ROOT / "azure.yaml").read_text(encoding="utf-8"))


def validator(fetched: list[str]) -> Draft201909Validator:
    """The vendored schema, offline. It $refs a few remote schemas (azd extensions for AI hosts);
    those resolve to an empty schema and are recorded, never fetched."""

    def retrieve(uri: str) -> Resource:
        fetched.append(uri)
        return Resource.from_contents({}, default_specification=DRAFT201909)

    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    Draft201909Validator.check_schema(schema)
    return Draft201909Validator(schema, registry=Registry(retrieve=retrieve))


def test_validates_against_the_azd_schema():
    fetched: list[str] = []
    errors = sorted(validator(fetched).iter_errors(azure_yaml()), key=lambda e: e.json_path)
    assert not errors, "\n".join(f"{e.json_path}: {e.message}" for e in errors)
    assert not fetched, f"validation of our azure.yaml needed remote schemas: {fetched}"


def test_the_schema_catches_mistakes():
    broken = azure_yaml()
    broken["services"]["router"].pop("host")
    broken["hooks"]["postdeploy"]["posix"]["shell"] = "bash"
    assert len(list(validator([]).iter_errors(broken))) >= 2


def test_one_python_function_service_at_the_repository_root():
    data = azure_yaml()
    (service,) = data["services"].values()
    assert service["host"] == "function"           # the schema lists hosts only as examples
    assert service["language"] == "python"
    assert (ROOT / service["project"]).resolve() == ROOT
    assert (ROOT / service["project"] / "function_app.py").is_file()
    assert data.get("infra", {}).get("path", "infra") == "infra"
    assert (ROOT / "infra" / f"{data.get('infra', {}).get('module', 'main')}.bicep").is_file()


def test_service_name_matches_the_tag_azd_looks_for():
    from tests.infra.bicep import INFRA, body, parse

    (name,) = azure_yaml()["services"]
    params = body(parse(INFRA / "main.bicep")["modules"]["functionApp"])["params"]
    assert params["serviceName"] == "serviceName"
    assert parse(INFRA / "main.bicep")["variables"]["serviceName"]["value"] == name


def test_postdeploy_hook_runs_stage_two_on_every_platform():
    hook = azure_yaml()["hooks"]["postdeploy"]
    for platform, shell in (("posix", "sh"), ("windows", "pwsh")):
        assert hook[platform]["shell"] == shell
        script = ROOT / hook[platform]["run"]
        assert script.is_file(), script
        assert "infra/connect.bicep" in script.read_text(encoding="utf-8")
    assert (ROOT / hook["posix"]["run"]).stat().st_mode & 0o111, "postdeploy.sh is executable"
