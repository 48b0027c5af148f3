# azd postdeploy hook (Windows): stage 2 of the deployment (infra/connect.bicep). Same as postdeploy.sh.
# Runs after `azd deploy`, because Event Grid validates an Azure Function endpoint against the
# functions the app has indexed, and the Action Group's URL needs the alerts function's key.
$ErrorActionPreference = 'Stop'
Set-Location (Join-Path $PSScriptRoot '..' '..')

if (-not (Get-Command az -ErrorAction SilentlyContinue)) {
    Write-Error "postdeploy: the Azure CLI (az) is needed; install it, run 'az login', then 'azd hooks run postdeploy'"
}
if (-not $env:AZURE_RESOURCE_GROUP -or -not $env:AZURE_FUNCTION_APP_NAME) {
    Write-Error 'postdeploy: run azd provision first'
}

function Or-Default([string]$value, [string]$default) { if ($value) { $value } else { $default } }

$tags = '{"azd-env-name":"' + $env:AZURE_ENV_NAME + '","app":"alertrouter"}'
$parameters = @(
    "functionAppName=$env:AZURE_FUNCTION_APP_NAME",
    "storageAccountName=$env:AZURE_STORAGE_ACCOUNT_NAME",
    "applicationInsightsName=$env:APPLICATIONINSIGHTS_NAME",
    "amlSystemTopicNames=$env:AML_SYSTEM_TOPIC_NAMES",
    "deadLetterContainerName=$(Or-Default $env:EVENTGRID_DEADLETTER_CONTAINER 'eventgrid-deadletter')",
    "alertsEntraAppObjectId=$env:ALERTS_ENTRA_APP_OBJECT_ID",
    "alertsEntraIdentifierUri=$env:ALERTS_ENTRA_IDENTIFIER_URI",
    "alertsEntraTenantId=$env:ALERTS_ENTRA_TENANT_ID",
    "exampleAlertEnabled=$(Or-Default $env:ALERTROUTER_EXAMPLE_ALERT 'false')",
    "tags=$tags"
)

for ($attempt = 1; ; $attempt++) {
    az deployment group create `
        --subscription $env:AZURE_SUBSCRIPTION_ID `
        --resource-group $env:AZURE_RESOURCE_GROUP `
        --name alertrouter-connect `
        --template-file infra/connect.bicep `
        --parameters @parameters `
        --output none
    if ($LASTEXITCODE -eq 0) {
        Write-Host 'postdeploy: Event Grid subscriptions and Action Group are in place'
        exit 0
    }
    if ($attempt -ge 4) {
        Write-Error "postdeploy: connect.bicep failed $attempt times; see docs/deploy.md, 'When the postdeploy hook fails'"
    }
    Write-Warning "postdeploy: attempt $attempt failed; retrying in 30 s (the functions may not be indexed yet)"
    Start-Sleep -Seconds 30
}
