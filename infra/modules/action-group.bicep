// Action Group whose webhook receiver is the router's alerts endpoint, with the common alert schema.
// With an Entra app registration it is a secure webhook (Azure Monitor sends a bearer token the
// router checks: ALERTROUTER_ENTRA__*); otherwise a plain webhook. Either way the URL carries the
// function key of the alerts function, because the route's auth level is FUNCTION.

param name string

@maxLength(12)
param shortName string

param tags object = {}
param functionAppName string

@description('The HTTP function for Azure Monitor alerts (function_app.py) and its route.')
param alertsFunctionName string
param alertsRoute string

@description('Object id of the app registration\'s service principal for secure webhooks; empty: function-key webhook.')
param entraAppObjectId string = ''
param entraIdentifierUri string = ''
param entraTenantId string = ''

var secureWebhook = !empty(entraAppObjectId)

resource functionApp 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: name
  location: 'global'
  tags: tags
  properties: {
    groupShortName: shortName
    enabled: true
    webhookReceivers: [
      {
        name: 'alertrouter'
        serviceUri: 'https://${functionApp.properties.defaultHostName}/api/${alertsRoute}?code=${listKeys('${functionApp.id}/functions/${alertsFunctionName}', '2024-04-01').default}'
        useCommonAlertSchema: true
        useAadAuth: secureWebhook
        objectId: secureWebhook ? entraAppObjectId : null
        identifierUri: secureWebhook ? entraIdentifierUri : null
        tenantId: secureWebhook ? (empty(entraTenantId) ? tenant().tenantId : entraTenantId) : null
      }
    ]
  }
}

output id string = actionGroup.id
output name string = actionGroup.name
