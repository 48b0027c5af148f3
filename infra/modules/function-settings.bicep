// The Function app's app settings: the host's own (identity-based storage and telemetry) and the
// router's (given by main.bicep). Written after the role assignments, so the first start already
// resolves the Key Vault references and reaches storage.

param functionAppName string
param storageAccountName string
param applicationInsightsConnectionString string

@description('Router settings (ALERTROUTER_*) and channel variables, name -> value.')
param appSettings object

resource functionApp 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

var hostSettings = {
  AzureWebJobsStorage__accountName: storageAccountName
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD'
}

resource settings 'Microsoft.Web/sites/config@2024-04-01' = {
  // The checks skipped here are about site configuration (function-app.bicep) or do not apply to app settings.
  //checkov:skip=CKV_AZURE_13:App Service Authentication would reject Event Grid and Action Group deliveries; callers use function keys, the Event Grid system key or Entra ID tokens the app checks
  //checkov:skip=CKV_AZURE_222:Event Grid and Action Groups deliver to the public endpoint
  //checkov:skip=CKV_AZURE_88:Flex Consumption has no Azure Files content share; the package is in a blob container
  //checkov:skip=CKV_AZURE_80:Python app; no .NET Framework
  //checkov:skip=CKV_AZURE_63:HTTP logging is a site-config setting that Flex Consumption does not use; requests are logged to Application Insights
  //checkov:skip=CKV_AZURE_65:Detailed error pages are a site-config setting that Flex Consumption does not use; errors go to Application Insights
  //checkov:skip=CKV_AZURE_66:Failed request tracing is a site-config setting that Flex Consumption does not use; failures go to Application Insights
  parent: functionApp
  name: 'appsettings'
  properties: union(appSettings, hostSettings)
}
