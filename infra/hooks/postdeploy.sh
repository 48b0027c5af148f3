#!/bin/sh
# azd postdeploy hook: stage 2 of the deployment (infra/connect.bicep).
# Runs after `azd deploy` has published the code, because Event Grid validates an Azure Function
# endpoint against the functions the app has indexed, and the Action Group's URL needs the alerts
# function's key. azd passes its environment (main.bicep outputs, azd env set values) to hooks.
# Needs the Azure CLI, signed in (`az login`) to the same tenant as azd.
set -eu

cd "$(dirname "$0")/../.."

if ! command -v az >/dev/null 2>&1; then
    echo "postdeploy: the Azure CLI (az) is needed to connect Event Grid and the Action Group; install it, run 'az login', then 'azd hooks run postdeploy'" >&2
    exit 1
fi

: "${AZURE_RESOURCE_GROUP:?run azd provision first}"
: "${AZURE_FUNCTION_APP_NAME:?run azd provision first}"

attempt=1
while :; do
    if az deployment group create \
        --subscription "${AZURE_SUBSCRIPTION_ID}" \
        --resource-group "${AZURE_RESOURCE_GROUP}" \
        --name alertrouter-connect \
        --template-file infra/connect.bicep \
        --parameters \
            functionAppName="${AZURE_FUNCTION_APP_NAME}" \
            storageAccountName="${AZURE_STORAGE_ACCOUNT_NAME}" \
            applicationInsightsName="${APPLICATIONINSIGHTS_NAME}" \
            amlSystemTopicNames="${AML_SYSTEM_TOPIC_NAMES:-}" \
            deadLetterContainerName="${EVENTGRID_DEADLETTER_CONTAINER:-eventgrid-deadletter}" \
            alertsEntraAppObjectId="${ALERTS_ENTRA_APP_OBJECT_ID:-}" \
            alertsEntraIdentifierUri="${ALERTS_ENTRA_IDENTIFIER_URI:-}" \
            alertsEntraTenantId="${ALERTS_ENTRA_TENANT_ID:-}" \
            exampleAlertEnabled="${ALERTROUTER_EXAMPLE_ALERT:-false}" \
            tags="{\"azd-env-name\":\"${AZURE_ENV_NAME}\",\"app\":\"alertrouter\"}" \
        --output none; then
        echo "postdeploy: Event Grid subscriptions and Action Group are in place"
        exit 0
    fi
    # A freshly deployed Flex Consumption app can take a minute to index its functions.
    if [ "$attempt" -ge 4 ]; then
        echo "postdeploy: connect.bicep failed $attempt times; see docs/deploy.md, 'When the postdeploy hook fails'" >&2
        exit 1
    fi
    echo "postdeploy: attempt $attempt failed; retrying in 30 s (the functions may not be indexed yet)" >&2
    attempt=$((attempt + 1))
    sleep 30
done
