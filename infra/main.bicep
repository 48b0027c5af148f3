// alertrouter on Azure, stage 1 (`azd provision`): resource group, storage, monitoring, Key Vault
// with the channel secrets, the Function app (Flex Consumption) with its roles and settings, and
// the Event Grid system topic on each Azure ML workspace. Stage 2 (connect.bicep) runs from the
// azd postdeploy hook, after the code is deployed. See docs/deploy.md.

targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; used to derive resource names and the azd-env-name tag.')
param environmentName string

@minLength(1)
@description('Region for all resources (the Event Grid system topics follow their workspace).')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Resource group name; empty: rg-<environment name>.')
param resourceGroupName string = ''

@description('Resource id of an existing Azure ML workspace whose events the router takes in; empty: no Event Grid wiring.')
param amlWorkspaceId string = ''

@description('Further Azure ML workspace resource ids, comma-separated (docs/deploy.md, "A second workspace").')
param additionalAmlWorkspaceIds string = ''

@description('Secure webhook for the Action Group: object id of an existing app registration; empty: function-key webhook.')
param alertsEntraAppObjectId string = ''

@description('Secure webhook: the app registration\'s identifier URI (the token audience the router checks).')
param alertsEntraIdentifierUri string = ''

@description('Secure webhook: the app registration\'s tenant; empty: this deployment\'s tenant.')
param alertsEntraTenantId string = ''

@description('Secure webhook: the app role the Action Group service principal holds.')
param alertsEntraAppRole string = 'ActionGroupsSecureWebhook'

@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

// Channel variables routing.yaml names that are not secrets: plain app settings.
param graphTenantId string = ''
param graphClientId string = ''
param graphSender string = ''
param qaEmailTo string = ''
param baEmailTo string = ''

// Channel secrets, routing.yaml variable name -> value (main.parameters.json maps each one to the
// azd environment variable of the same name; an empty value leaves that channel unset). Each goes
// to Key Vault and reaches the app as a Key Vault reference. Never a default, never an output.
@secure()
@description('Channel secrets by routing.yaml variable name (…_URL, …_KEY, …_SECRET, …_PASSWORD, …_TOKEN).')
param channelSecrets object

var abbrs = {
  resourceGroup: 'rg-'
  storage: 'st'
  functionApp: 'func-'
  plan: 'plan-'
  logAnalytics: 'log-'
  applicationInsights: 'appi-'
  keyVault: 'kv-'
  systemTopic: 'evgt-aml-'
}
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
  app: 'alertrouter'
}
var serviceName = 'router'
var functionAppName = '${abbrs.functionApp}${resourceToken}'
var storageAccountName = '${abbrs.storage}${resourceToken}'
var keyVaultName = '${abbrs.keyVault}${resourceToken}'
var deploymentContainerName = 'app-package-${take(functionAppName, 32)}'
var deadLetterContainerName = 'eventgrid-deadletter'
var deliveryQueueName = 'alertrouter-deliveries'
var tablePrefix = 'alertrouter'

var amlWorkspaceIds = concat(empty(amlWorkspaceId) ? [] : [amlWorkspaceId], empty(additionalAmlWorkspaceIds) ? [] : split(replace(additionalAmlWorkspaceIds, ' ', ''), ','))
var amlSystemTopicNames = [for id in amlWorkspaceIds: '${abbrs.systemTopic}${uniqueString(id)}']
var entraEnabled = !empty(alertsEntraAppObjectId)

// Key Vault references, versionless: App Service reads the newest version of each secret.
var secretUriPrefix = 'https://${keyVaultName}${environment().suffixes.keyvaultDns}/secrets/'

var routerSettings = union({
  ALERTROUTER_STORE: 'azure'
  ALERTROUTER_AZURE__ACCOUNT_NAME: storageAccountName
  ALERTROUTER_AZURE__TABLE_PREFIX: tablePrefix
  ALERTROUTER_AZURE__QUEUE_NAME: deliveryQueueName
  ALERTROUTER_CONFIG: 'routing.yaml'
  ALERTROUTER_DATA_DIR: '/tmp/alertrouter'
}, empty(amlWorkspaceIds) ? {} : {
  ALERTROUTER_EVENTGRID__ALLOWED_TOPICS: string(amlWorkspaceIds)
}, entraEnabled ? {
  ALERTROUTER_ENTRA__TENANT_ID: empty(alertsEntraTenantId) ? tenant().tenantId : alertsEntraTenantId
  ALERTROUTER_ENTRA__AUDIENCE: alertsEntraIdentifierUri
  ALERTROUTER_ENTRA__APP_ROLE: alertsEntraAppRole
} : {})

// Every ${VAR} routing.yaml references is written, so the app never sees a stale value; an unset
// secret is written empty (the channel is skipped, its notifications go to the log channel).
var channelSettings = {
  SE_TEAMS_WEBHOOK_URL: empty(channelSecrets.SE_TEAMS_WEBHOOK_URL) ? '' : '@Microsoft.KeyVault(SecretUri=${secretUriPrefix}se-teams-webhook-url/)'
  DS_TEAMS_WEBHOOK_URL: empty(channelSecrets.DS_TEAMS_WEBHOOK_URL) ? '' : '@Microsoft.KeyVault(SecretUri=${secretUriPrefix}ds-teams-webhook-url/)'
  QA_TEAMS_WEBHOOK_URL: empty(channelSecrets.QA_TEAMS_WEBHOOK_URL) ? '' : '@Microsoft.KeyVault(SecretUri=${secretUriPrefix}qa-teams-webhook-url/)'
  PAGERDUTY_ROUTING_KEY: empty(channelSecrets.PAGERDUTY_ROUTING_KEY) ? '' : '@Microsoft.KeyVault(SecretUri=${secretUriPrefix}pagerduty-routing-key/)'
  GRAPH_CLIENT_SECRET: empty(channelSecrets.GRAPH_CLIENT_SECRET) ? '' : '@Microsoft.KeyVault(SecretUri=${secretUriPrefix}graph-client-secret/)'
  OPS_WEBHOOK_URL: empty(channelSecrets.OPS_WEBHOOK_URL) ? '' : '@Microsoft.KeyVault(SecretUri=${secretUriPrefix}ops-webhook-url/)'
  OPS_WEBHOOK_SECRET: empty(channelSecrets.OPS_WEBHOOK_SECRET) ? '' : '@Microsoft.KeyVault(SecretUri=${secretUriPrefix}ops-webhook-secret/)'
  SMTP_PASSWORD: empty(channelSecrets.SMTP_PASSWORD) ? '' : '@Microsoft.KeyVault(SecretUri=${secretUriPrefix}smtp-password/)'
  // signs the acknowledge links of escalating pages; empty: pages carry no link and escalate on time
  ALERTROUTER_ACK_SECRET: empty(channelSecrets.ALERTROUTER_ACK_SECRET) ? '' : '@Microsoft.KeyVault(SecretUri=${secretUriPrefix}alertrouter-ack-secret/)'
  GRAPH_TENANT_ID: graphTenantId
  GRAPH_CLIENT_ID: graphClientId
  GRAPH_SENDER: graphSender
  QA_EMAIL_TO: qaEmailTo
  BA_EMAIL_TO: baEmailTo
}

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : '${abbrs.resourceGroup}${environmentName}'
  location: location
  tags: tags
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: storageAccountName
    location: location
    tags: tags
    containerNames: [
      deploymentContainerName
      deadLetterContainerName
    ]
    queueNames: [
      deliveryQueueName
    ]
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: '${abbrs.logAnalytics}${resourceToken}'
    applicationInsightsName: '${abbrs.applicationInsights}${resourceToken}'
    location: location
    tags: tags
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    name: keyVaultName
    location: location
    tags: tags
  }
}

module secrets 'modules/keyvault-secret.bicep' = [for item in items(channelSecrets): {
  name: 'channel-secret-${toLower(item.key)}'
  scope: rg
  params: {
    keyVaultName: keyVault.outputs.name
    name: replace(toLower(item.key), '_', '-')
    value: item.value
  }
}]

module functionApp 'modules/function-app.bicep' = {
  name: 'function-app'
  scope: rg
  params: {
    name: functionAppName
    planName: '${abbrs.plan}${resourceToken}'
    location: location
    tags: tags
    serviceName: serviceName
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentContainerName
    pythonVersion: '3.11'
    maximumInstanceCount: maximumInstanceCount
  }
}

module roles 'modules/role-assignments.bicep' = {
  name: 'role-assignments'
  scope: rg
  params: {
    principalId: functionApp.outputs.principalId
    storageAccountName: storage.outputs.name
    keyVaultName: keyVault.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
  }
}

module functionSettings 'modules/function-settings.bicep' = {
  name: 'function-settings'
  scope: rg
  dependsOn: [
    roles
    secrets
  ]
  params: {
    functionAppName: functionApp.outputs.name
    storageAccountName: storage.outputs.name
    applicationInsightsConnectionString: monitoring.outputs.connectionString
    appSettings: union(routerSettings, channelSettings, {
      ALERTROUTER_PUBLIC_URL: 'https://${functionApp.outputs.defaultHostName}'
    })
  }
}

module amlTopics 'modules/aml-system-topic.bicep' = [for (workspaceId, i) in amlWorkspaceIds: {
  name: 'aml-system-topic-${i}'
  scope: rg
  dependsOn: [
    storage
  ]
  params: {
    name: amlSystemTopicNames[i]
    tags: tags
    workspaceId: workspaceId
    storageAccountName: storageAccountName
    deadLetterContainerName: deadLetterContainerName
  }
}]

// azd stores these in the environment; the postdeploy hook passes them to connect.bicep.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output AZURE_FUNCTION_APP_URL string = 'https://${functionApp.outputs.defaultHostName}'
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.applicationInsightsName
output AML_SYSTEM_TOPIC_NAMES string = join(amlSystemTopicNames, ',')
output EVENTGRID_DEADLETTER_CONTAINER string = deadLetterContainerName
