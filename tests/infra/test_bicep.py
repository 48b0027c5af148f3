"""infra/*.bicep, parsed with pycep-parser: the resources issue 9 asks for, wired to the functions
the app indexes, the event types the adapters handle and the settings the app reads."""

from __future__ import annotations

import json
import re

import pytest
from ruamel.yaml import YAML

from alertrouter.config.env import ENV_REF
from alertrouter.inbound import aml
from alertrouter.settings import Settings, setting_names
from tests.conftest import ROOT, indexed_functions
from tests.infra.bicep import (
    INFRA, all_resources, app_settings, bicep_files, body, condition, interpolations, is_secure, mentions,
    module_path, parse, rel, resources,
)

MAIN = INFRA / "main.bicep"
CONNECT = INFRA / "connect.bicep"

# Settings the Functions host and platform read (not the router's settings model).
HOST_SETTINGS = {
    "AzureWebJobsStorage__accountName",
    "AzureWebJobsStorage__credential",
    "AzureWebJobsStorage__clientId",
    "APPLICATIONINSIGHTS_CONNECTION_STRING",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
    "FUNCTIONS_EXTENSION_VERSION",
    "FUNCTIONS_WORKER_RUNTIME",
    "WEBSITE_RUN_FROM_PACKAGE",
}
# Channel variables main.bicep writes beyond those the shipped routing.yaml names: the password of
# the optional SMTP channel (README), so switching that channel on needs no infrastructure change.
OPTIONAL_CHANNEL_VARS = {"SMTP_PASSWORD"}
SECRET_SUFFIXES = ("_URL", "_KEY", "_SECRET", "_PASSWORD", "_TOKEN")

# API versions checked to exist in the Azure REST specs; a typo or an invented version fails here
# instead of at deployment time.
API_VERSIONS = {
    "Microsoft.Resources/resourceGroups": {"2024-03-01"},
    "Microsoft.Storage/storageAccounts": {"2023-05-01"},
    "Microsoft.Storage/storageAccounts/blobServices": {"2023-05-01"},
    "Microsoft.Storage/storageAccounts/blobServices/containers": {"2023-05-01"},
    "Microsoft.Storage/storageAccounts/queueServices": {"2023-05-01"},
    "Microsoft.Storage/storageAccounts/queueServices/queues": {"2023-05-01"},
    "Microsoft.Web/serverfarms": {"2024-04-01"},
    "Microsoft.Web/sites": {"2024-04-01"},
    "Microsoft.Web/sites/config": {"2024-04-01"},
    "Microsoft.OperationalInsights/workspaces": {"2023-09-01"},
    "Microsoft.Insights/components": {"2020-02-02"},
    "Microsoft.KeyVault/vaults": {"2023-07-01"},
    "Microsoft.KeyVault/vaults/secrets": {"2023-07-01"},
    "Microsoft.Authorization/roleAssignments": {"2022-04-01"},
    "Microsoft.MachineLearningServices/workspaces": {"2024-04-01"},
    "Microsoft.EventGrid/systemTopics": {"2022-06-15"},
    "Microsoft.EventGrid/systemTopics/eventSubscriptions": {"2022-06-15"},
    "Microsoft.Insights/actionGroups": {"2023-01-01"},
    "Microsoft.Insights/metricAlerts": {"2018-03-01"},
}
ROLES = {
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": "Storage Blob Data Owner",
    "974c5e8b-45b9-4653-ba55-5f855dd0fb88": "Storage Queue Data Contributor",
    "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3": "Storage Table Data Contributor",
    "4633458b-17de-408a-b874-0445c86b69e6": "Key Vault Secrets User",
    "3913510d-42f4-4e42-8a64-420c390055eb": "Monitoring Metrics Publisher",
}


def routing_vars() -> set[str]:
    """Every ${VAR} in the values of the shipped routing.yaml (comments may mention ${ENV_VAR})."""
    def strings(node):
        if isinstance(node, dict):
            for key, value in node.items():
                yield from strings(key)
                yield from strings(value)
        elif isinstance(node, list):
            for item in node:
                yield from strings(item)
        elif isinstance(node, str):
            yield node

    data = YAML(typ="safe").load((ROOT / "routing.yaml").read_text(encoding="utf-8"))
    return {var for text in strings(data) for var in ENV_REF.findall(text)}


def only(items: dict | list, what: str):
    items = list(items.values()) if isinstance(items, dict) else items
    assert len(items) == 1, f"expected one {what}, found {len(items)}"
    return items[0]


def variable(path, name):
    return parse(path)["variables"][name]["value"]


def functions_json() -> dict[str, dict]:
    return {name: json.loads(fn.get_function_json()) for name, fn in indexed_functions().items()}


# ---- every file ---------------------------------------------------------------------------------

@pytest.mark.parametrize("path", bicep_files(), ids=rel)
def test_parses_and_uses_known_api_versions(path):
    parsed = parse(path)
    for name, res in parsed.get("resources", {}).items():
        rtype = res["type"]
        if not res["api_version"]:           # child declared inside its parent: the parent's version
            continue
        assert res["api_version"] in API_VERSIONS.get(rtype, set()), (
            f"{rel(path)}: {name} uses {rtype}@{res['api_version']}; known: {API_VERSIONS.get(rtype)}")
    for name, module in parsed.get("modules", {}).items():
        assert module["type"] == "local" and module_path(path, module).is_file(), f"{rel(path)}: module {name}"


@pytest.mark.parametrize("path", bicep_files(), ids=rel)
def test_no_secure_parameter_has_a_default_or_reaches_an_output(path):
    parsed = parse(path)
    secure = {n for n, p in parsed.get("parameters", {}).items() if is_secure(p)}
    for name in secure:
        assert parsed["parameters"][name]["default"] is None, f"{rel(path)}: @secure() {name} has a default"
    for out_name, out in parsed.get("outputs", {}).items():
        for name in secure:
            assert not mentions(out["value"], name), f"{rel(path)}: output {out_name} uses @secure() {name}"
        assert "listKeys" not in json.dumps(out["value"]), f"{rel(path)}: output {out_name} exposes keys"
    # A secure value handed to a module lands in a @secure() parameter there.
    for mod_name, module in parsed.get("modules", {}).items():
        config = module["config"]
        loop = config.get("loop_type") if isinstance(config, dict) else None
        item_value = None          # for item in items(<secure object>): item.value is secret, item.key not
        if loop and any(mentions(loop["detail"]["array_name"], s) for s in secure):
            item_value = json.dumps({"operand_1": loop["detail"]["item_name"], "operand_2": "value"})[1:-1]
        callee = parse(module_path(path, module))["parameters"]
        for arg, expr in body(module).get("params", {}).items():
            if any(mentions(expr, s) for s in secure) or (item_value and item_value in json.dumps(expr)):
                assert is_secure(callee[arg]), f"{rel(path)}: module {mod_name} passes a secret to {arg}, not @secure()"


def test_secrets_are_not_parameter_defaults_in_the_parameters_file():
    params = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    declared = parse(MAIN)["parameters"]
    assert set(params) <= set(declared), set(params) - set(declared)
    for name, entry in params.items():
        for value in (entry["value"].values() if isinstance(entry["value"], dict) else [entry["value"]]):
            assert re.fullmatch(r"\$\{[A-Z_][A-Z0-9_]*\}", value), f"{name}: literal value {value!r}"


# ---- resources ----------------------------------------------------------------------------------

def test_function_app_is_flex_consumption_linux_python_311_with_identity():
    app_path = module_path(MAIN, parse(MAIN)["modules"]["functionApp"])
    plan = body(only(resources(app_path, "Microsoft.Web/serverfarms"), "plan"))
    assert plan["sku"] == {"name": "FC1", "tier": "FlexConsumption"}
    assert plan["properties"]["reserved"] is True
    site = body(only(resources(app_path, "Microsoft.Web/sites"), "site"))
    assert "linux" in site["kind"]
    assert site["identity"] == {"type": "SystemAssigned"}
    props = site["properties"]
    assert props["httpsOnly"] is True
    assert props["siteConfig"]["minTlsVersion"] == "1.2"
    config = props["functionAppConfig"]
    assert config["runtime"]["name"] == "python"
    assert body(parse(MAIN)["modules"]["functionApp"])["params"]["pythonVersion"] == "3.11"
    storage = config["deployment"]["storage"]
    assert storage["type"] == "blobContainer"
    assert storage["authentication"] == {"type": "SystemAssignedIdentity"}
    assert "azd-service-name" in json.dumps(site["tags"])


def test_storage_has_shared_keys_off_and_holds_the_package_dead_letters_and_queue():
    module = parse(MAIN)["modules"]["storage"]
    account = body(only(resources(module_path(MAIN, module), "Microsoft.Storage/storageAccounts"), "account"))
    props = account["properties"]
    assert props["allowSharedKeyAccess"] is False
    assert props["allowBlobPublicAccess"] is False
    assert props["minimumTlsVersion"] == "TLS1_2"
    params = body(module)["params"]
    assert set(params["containerNames"]) == {"deploymentContainerName", "deadLetterContainerName"}
    assert params["queueNames"] == ["deliveryQueueName"]
    assert variable(MAIN, "deliveryQueueName") == Settings().azure.queue_name


def test_identity_gets_only_the_roles_it_uses():
    module = parse(MAIN)["modules"]["roles"]
    path = module_path(MAIN, module)
    role_ids = variable(path, "roles")
    granted = {}
    for name, res in resources(path, "Microsoft.Authorization/roleAssignments").items():
        props = body(res)["properties"]
        role_var = re.search(r'"operand_1": "roles", "operand_2": "(\w+)"', json.dumps(props["roleDefinitionId"])).group(1)
        granted[ROLES[role_ids[role_var]]] = body(res)["scope"]
        assert props["principalId"] == "principalId" and props["principalType"] == "ServicePrincipal"
    assert granted == {
        "Storage Blob Data Owner": "storage",
        "Storage Queue Data Contributor": "storage",
        "Storage Table Data Contributor": "storage",
        "Key Vault Secrets User": "vault",
        "Monitoring Metrics Publisher": "applicationInsights",
    }
    principal = body(module)["params"]["principalId"]["operator"]["operands"]     # functionApp.outputs.principalId
    assert principal["operand_1"] == "functionApp"
    assert principal["operand_2"]["operator"]["operands"] == {"operand_1": "outputs", "operand_2": "principalId"}


def test_monitoring_and_key_vault():
    monitoring = module_path(MAIN, parse(MAIN)["modules"]["monitoring"])
    insights = body(only(resources(monitoring, "Microsoft.Insights/components"), "components"))
    assert insights["properties"]["WorkspaceResourceId"]
    only(resources(monitoring, "Microsoft.OperationalInsights/workspaces"), "workspace")
    vault = body(only(all_resources("Microsoft.KeyVault/vaults"), "vault")[2])
    assert vault["properties"]["enableRbacAuthorization"] is True


def test_aml_system_topic_is_skipped_without_a_workspace():
    params = parse(MAIN)["parameters"]
    assert params["amlWorkspaceId"]["default"] == ""
    module = parse(MAIN)["modules"]["amlTopics"]
    assert module["config"]["loop_type"]["detail"]["array_name"] == "amlWorkspaceIds"
    ids = json.dumps(variable(MAIN, "amlWorkspaceIds"))
    assert '"empty"' in ids and '"amlWorkspaceId"' in ids
    topic = body(only(resources(module_path(MAIN, module), "Microsoft.EventGrid/systemTopics"), "system topic"))
    assert topic["properties"] == {"source": "workspaceId",
                                   "topicType": "Microsoft.MachineLearningServices.Workspaces"}
    assert topic["identity"] == {"type": "SystemAssigned"}


def test_event_subscription_targets_the_indexed_event_grid_trigger():
    fns = functions_json()
    triggers = [n for n, f in fns.items() if any(b["type"] == "eventGridTrigger" for b in f["bindings"])]
    assert variable(CONNECT, "amlEventsFunctionName") == only(triggers, "Event Grid trigger")
    module = parse(CONNECT)["modules"]["amlSubscriptions"]
    assert body(module)["params"]["functionName"] == "amlEventsFunctionName"
    (path, _, res) = only(all_resources("Microsoft.EventGrid/systemTopics/eventSubscriptions"), "subscription")
    assert path == module_path(CONNECT, module)
    props = body(res)["properties"]
    destination = props["destination"]
    assert destination["endpointType"] == "AzureFunction"
    assert destination["properties"]["resourceId"] == "${functionApp.id}/functions/${functionName}"
    assert props["eventDeliverySchema"] == "EventGridSchema"     # the trigger takes func.EventGridEvent


def test_event_subscription_includes_exactly_the_types_the_adapters_handle():
    (_, _, res) = only(all_resources("Microsoft.EventGrid/systemTopics/eventSubscriptions"), "subscription")
    included = body(res)["properties"]["filter"]["includedEventTypes"]
    assert len(included) == len(set(included))
    assert {t.lower() for t in included} == {aml.PREFIX + t for t in aml.TYPES}
    assert all(t.startswith("Microsoft.MachineLearningServices.") for t in included)


def test_event_subscription_retries_expire_and_dead_letter_on_purpose():
    (path, _, res) = only(all_resources("Microsoft.EventGrid/systemTopics/eventSubscriptions"), "subscription")
    props = body(res)["properties"]
    params = parse(path)["parameters"]
    retry = props["retryPolicy"]
    assert params[retry["maxDeliveryAttempts"]]["default"] == 10
    assert params[retry["eventTimeToLiveInMinutes"]]["default"] == 720
    for name in retry.values():
        assert any(d["type"] == "description" for d in params[name]["decorators"]), f"say why {name}"
    dead = props["deadLetterWithResourceIdentity"]
    assert dead["identity"] == {"type": "SystemAssigned"}     # shared keys are off on the account
    assert dead["deadLetterDestination"]["endpointType"] == "StorageBlob"
    # The topic's identity may write to the dead-letter container, and only there.
    topic_path = module_path(MAIN, parse(MAIN)["modules"]["amlTopics"])
    grant = body(only(resources(topic_path, "Microsoft.Authorization/roleAssignments"), "role assignment"))
    assert '"deadLetters"' in json.dumps(grant["scope"])
    assert variable(topic_path, "storageBlobDataContributor") == "ba92f5b4-2d11-453d-a403-e96b0029c9fe"


def test_action_group_posts_the_common_schema_to_the_indexed_alerts_route():
    fns = functions_json()
    name = variable(CONNECT, "alertsFunctionName")
    assert name in fns, f"connect.bicep names {name!r}; the app indexes {sorted(fns)}"
    (http,) = [b for b in fns[name]["bindings"] if b["type"] == "httpTrigger"]
    assert http["route"] == variable(CONNECT, "alertsRoute")
    assert "POST" in [m.upper() for m in http["methods"]]
    host = json.loads((ROOT / "host.json").read_text())
    assert host.get("extensions", {}).get("http", {}).get("routePrefix", "api") == "api"
    params = body(parse(CONNECT)["modules"]["actionGroup"])["params"]
    assert params["alertsFunctionName"] == "alertsFunctionName" and params["alertsRoute"] == "alertsRoute"
    path = module_path(CONNECT, parse(CONNECT)["modules"]["actionGroup"])
    group = body(only(resources(path, "Microsoft.Insights/actionGroups"), "action group"))
    receiver = only(group["properties"]["webhookReceivers"], "webhook receiver")
    assert receiver["useCommonAlertSchema"] is True
    uri = receiver["serviceUri"]
    assert uri.startswith("https://${functionApp.properties.defaultHostName}/api/${alertsRoute}?code=")
    if http["authLevel"] != "ANONYMOUS":     # the host wants a key whatever else the caller proves
        assert "functions/${alertsFunctionName}" in uri and "listKeys" in uri
    # Secure webhook when the Entra parameters are given, plain otherwise.
    assert receiver["useAadAuth"] == "secureWebhook"
    assert "entraAppObjectId" in json.dumps(variable(path, "secureWebhook"))
    for field in ("objectId", "identifierUri", "tenantId"):
        assert receiver[field]["operator"]["operands"]["condition"] == "secureWebhook"


def test_example_metric_alert_is_off_by_default_and_bound_to_the_action_group():
    assert parse(CONNECT)["parameters"]["exampleAlertEnabled"]["default"] is False
    module = parse(CONNECT)["modules"]["exampleAlert"]
    assert condition(module) == "exampleAlertEnabled"
    alert = body(only(resources(module_path(CONNECT, module), "Microsoft.Insights/metricAlerts"), "alert"))
    assert alert["properties"]["actions"] == [{"actionGroupId": "actionGroupId"}]


# ---- settings -----------------------------------------------------------------------------------

def test_every_setting_written_is_one_something_reads():
    written = {s.name for s in app_settings()}
    known = setting_names() | HOST_SETTINGS | routing_vars() | OPTIONAL_CHANNEL_VARS
    assert written <= known, f"nothing reads {sorted(written - known)}"
    assert len(written) == len(app_settings()), "a setting is written twice"


def test_settings_the_app_needs_in_azure_are_written():
    settings = {s.name: s for s in app_settings()}
    always = {"ALERTROUTER_STORE", "ALERTROUTER_AZURE__ACCOUNT_NAME", "ALERTROUTER_DATA_DIR",
              "ALERTROUTER_AZURE__QUEUE_NAME", "AzureWebJobsStorage__accountName",
              "APPLICATIONINSIGHTS_CONNECTION_STRING"}
    for name in always:
        assert name in settings and not settings[name].conditional, name
    assert settings["ALERTROUTER_STORE"].value == "azure"
    assert settings["ALERTROUTER_AZURE__ACCOUNT_NAME"].value == "storageAccountName"
    assert settings["AzureWebJobsStorage__accountName"].value == "storageAccountName"
    # Identity only: no connection strings or keys for storage, no local API key.
    for name in ("ALERTROUTER_AZURE__CONNECTION_STRING", "ALERTROUTER_API_KEY", "AzureWebJobsStorage"):
        assert name not in settings
    # The workspace ids when given (JSON list, as pydantic-settings reads list fields).
    topics = settings["ALERTROUTER_EVENTGRID__ALLOWED_TOPICS"]
    assert topics.value == {"function": {"type": "string", "parameters": {"value_to_convert": "amlWorkspaceIds"}}}
    # Entra settings when the secure-webhook parameters are given.
    for name in ("ALERTROUTER_ENTRA__TENANT_ID", "ALERTROUTER_ENTRA__AUDIENCE", "ALERTROUTER_ENTRA__APP_ROLE"):
        assert settings[name].conditional, name
    assert settings["ALERTROUTER_ENTRA__AUDIENCE"].value == "alertsEntraIdentifierUri"


def test_written_values_are_valid_for_the_settings_model(monkeypatch):
    """The router's settings as main.bicep writes them (sample values for deployment-time ones) load."""
    samples = {"storageAccountName": "stabc123", "alertsEntraIdentifierUri": "api://alertrouter",
               "alertsEntraAppRole": "ActionGroupsSecureWebhook"}
    for s in app_settings():
        if s.name.startswith("ALERTROUTER_") and isinstance(s.value, str):
            if s.value in samples:
                value = samples[s.value]
            elif s.value in parse(MAIN)["variables"]:
                value = variable(MAIN, s.value)
            else:
                value = s.value
            monkeypatch.setenv(s.name, value)
    workspace = "/subscriptions/0000/resourceGroups/ml/providers/Microsoft.MachineLearningServices/workspaces/w1"
    monkeypatch.setenv("ALERTROUTER_EVENTGRID__ALLOWED_TOPICS", json.dumps([workspace]))  # string(array)
    settings = Settings()
    assert settings.store == "azure" and settings.azure.account_name == "stabc123"
    assert settings.azure.queue_name == variable(MAIN, "deliveryQueueName")
    assert settings.azure.table_prefix == variable(MAIN, "tablePrefix")
    assert settings.eventgrid.allowed_topics == [workspace]
    assert settings.entra.audience == "api://alertrouter"


def test_every_channel_variable_routing_yaml_names_is_written():
    settings = {s.name: s for s in app_settings()}
    for var in sorted(routing_vars() | OPTIONAL_CHANNEL_VARS):
        assert var in settings, f"routing.yaml names ${{{var}}}; main.bicep does not write it"


def test_channel_secrets_are_key_vault_references_to_secure_values():
    settings = {s.name: s for s in app_settings()}
    main = parse(MAIN)
    assert is_secure(main["parameters"]["channelSecrets"])
    file_values = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]["channelSecrets"]["value"]
    # the router's own secret (acknowledge-link key) travels the same way as the channel secrets
    secret_vars = {v for v in routing_vars() | OPTIONAL_CHANNEL_VARS if v.endswith(SECRET_SUFFIXES)} | {
        "ALERTROUTER_ACK_SECRET"}
    for var in sorted(secret_vars):
        kv_name = var.lower().replace("_", "-")
        op = settings[var].value["operator"]
        assert op["type"] == "conditional", var
        cond = op["operands"]["condition"]["function"]
        assert cond["type"] == "empty" and cond["parameters"]["item_to_test"]["operator"]["operands"] == {
            "operand_1": "channelSecrets", "operand_2": var}, var
        assert op["operands"]["true_value"] == ""            # unset: the channel falls back to `log`
        assert op["operands"]["false_value"] == f"@Microsoft.KeyVault(SecretUri=${{secretUriPrefix}}{kv_name}/)"
        assert file_values[var] == f"${{{var}}}", f"main.parameters.json: channelSecrets.{var}"
    assert set(file_values) == secret_vars, "channelSecrets holds exactly the secret channel variables"
    # The references point at this deployment's vault, and each secret is created there.
    assert interpolations(variable(MAIN, "secretUriPrefix")) == {"keyVaultName", "environment().suffixes.keyvaultDns"}
    assert body(main["modules"]["keyVault"])["params"]["name"] == "keyVaultName"
    secrets = main["modules"]["secrets"]
    loop = secrets["config"]["loop_type"]["detail"]
    assert loop["array_name"] == {"function": {"type": "items", "parameters": {"arg_1": "channelSecrets"}}}
    name_expr = json.dumps(body(secrets)["params"]["name"])
    assert '"replace"' in name_expr and '"to_lower"' in name_expr and "item" in name_expr
    secret = only(resources(module_path(MAIN, secrets), "Microsoft.KeyVault/vaults/secrets"), "secret")
    assert body(secret)["properties"]["value"] == "value"
    # Plain channel variables (ids, addresses) are plain settings from plain parameters.
    for var in sorted((routing_vars() | OPTIONAL_CHANNEL_VARS) - secret_vars):
        value = settings[var].value
        assert isinstance(value, str) and value in main["parameters"], var
        assert not is_secure(main["parameters"][value])


def test_deployment_is_two_stages_with_the_subscription_after_the_code():
    main, connect = parse(MAIN), parse(CONNECT)

    def deployed(path):
        types = {r["type"] for r in resources(path).values()}
        return types | {r["type"] for m in parse(path).get("modules", {}).values()
                        for r in resources(module_path(path, m)).values()}

    stage_two = {"Microsoft.EventGrid/systemTopics/eventSubscriptions", "Microsoft.Insights/actionGroups"}
    assert not deployed(MAIN) & stage_two
    assert stage_two <= deployed(CONNECT)
    # The hook deploys connect.bicep with the outputs main.bicep leaves in the azd environment.
    outputs = set(main["outputs"])
    for hook in ("postdeploy.sh", "postdeploy.ps1"):
        text = (INFRA / "hooks" / hook).read_text()
        assert "infra/connect.bicep" in text, hook
        passed = set(re.findall(r"(\w+)=", text)) & set(connect["parameters"])
        assert passed == set(connect["parameters"]), f"{hook} leaves out {set(connect['parameters']) - passed}"
        for var in ("AZURE_RESOURCE_GROUP", "AZURE_FUNCTION_APP_NAME", "AZURE_STORAGE_ACCOUNT_NAME",
                    "APPLICATIONINSIGHTS_NAME", "AML_SYSTEM_TOPIC_NAMES", "EVENTGRID_DEADLETTER_CONTAINER"):
            assert var in text and var in outputs, (hook, var)
