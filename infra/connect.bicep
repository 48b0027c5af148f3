// Stage 2 of the deployment: what needs the deployed code. `azd up` runs it from the postdeploy
// hook (infra/hooks/postdeploy.sh or .ps1) after `azd deploy` has published function_app.py:
//  - Event Grid validates an Azure Function endpoint against the functions the app has indexed, so
//    the subscription on each Azure ML workspace's system topic cannot exist before the code;
//  - the Action Group's webhook URL carries the alerts function's key, which exists once the
//    function does.
// Idempotent: every `azd deploy` runs it again. Stage 1 (main.bicep) made everything else.

targetScope = 'resourceGroup'

param functionAppName string
param storageAccountName string
param applicationInsightsName string

@description('System topics made by main.bicep, comma-separated (its output AML_SYSTEM_TOPIC_NAMES); empty: no Azure ML wiring.')
param amlSystemTopicNames string = ''

param deadLetterContainerName string = 'eventgrid-deadletter'

@description('Secure webhook: object id of an existing app registration; empty: function-key webhook.')
param alertsEntraAppObjectId string = ''
@description('Secure webhook: that app registration\'s identifier URI (api://…).')
param alertsEntraIdentifierUri string = ''
@description('Secure webhook: its tenant; empty: this deployment\'s tenant.')
param alertsEntraTenantId string = ''

@description('Also create the example metric alert rule bound to the Action Group.')
param exampleAlertEnabled bool = false

param tags object = {}

// The functions function_app.py indexes (tests/infra checks these against the indexed app).
var amlEventsFunctionName = 'aml_events'
var alertsFunctionName = 'monitor_alerts'
var alertsRoute = 'alerts'

var topicNames = empty(amlSystemTopicNames) ? [] : split(replace(amlSystemTopicNames, ' ', ''), ',')
var resourceToken = toLower(uniqueString(resourceGroup().id, functionAppName))

module amlSubscriptions 'modules/aml-event-subscription.bicep' = [for (topicName, i) in topicNames: {
  name: 'aml-subscription-${i}'
  params: {
    systemTopicName: topicName
    functionAppName: functionAppName
    functionName: amlEventsFunctionName
    storageAccountName: storageAccountName
    deadLetterContainerName: deadLetterContainerName
  }
}]

module actionGroup 'modules/action-group.bicep' = {
  name: 'action-group'
  params: {
    name: 'ag-alertrouter-${resourceToken}'
    shortName: 'alertrouter'
    tags: tags
    functionAppName: functionAppName
    alertsFunctionName: alertsFunctionName
    alertsRoute: alertsRoute
    entraAppObjectId: alertsEntraAppObjectId
    entraIdentifierUri: alertsEntraIdentifierUri
    entraTenantId: alertsEntraTenantId
  }
}

module exampleAlert 'modules/example-alert.bicep' = if (exampleAlertEnabled) {
  name: 'example-alert'
  params: {
    name: 'alertrouter-example-failed-requests-${resourceToken}'
    tags: tags
    applicationInsightsName: applicationInsightsName
    actionGroupId: actionGroup.outputs.id
  }
}

output ACTION_GROUP_ID string = actionGroup.outputs.id
