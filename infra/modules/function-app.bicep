// Function app on the Flex Consumption plan (FC1), Linux, Python 3.11, system-assigned identity,
// HTTPS only. The deployment package lives in a blob container reached with that identity.
// App settings are written separately (function-settings.bicep), after the identity holds its roles.

param name string
param planName string
param location string = resourceGroup().location
param tags object = {}

@description('azd finds the app to deploy to by this tag (azure.yaml service name).')
param serviceName string

param storageAccountName string
param deploymentContainerName string

@allowed(['3.10', '3.11', '3.12'])
param pythonVersion string = '3.11'

@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    //checkov:skip=CKV_AZURE_225:Zone redundancy for Flex Consumption is region-dependent; during a zone outage Event Grid and Action Groups retry deliveries
    reserved: true
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': serviceName })
  kind: 'functionapp,linux'
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    //checkov:skip=CKV_AZURE_222:Event Grid and Action Groups deliver to the public endpoint
    //checkov:skip=CKV_AZURE_17:Event Grid and Action Groups present no client certificates; callers use function keys, the Event Grid system key or Entra ID tokens
    //checkov:skip=CKV_AZURE_212:Scale to zero is the point of Flex Consumption here (idle cost); Event Grid and Action Groups retry through cold starts
    //checkov:skip=CKV_AZURE_213:Platform health check acts only with several always-on instances; probes use GET /api/health instead
    serverFarmId: plan.id
    httpsOnly: true
    publicNetworkAccess: 'Enabled'
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'SystemAssignedIdentity'
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'python'
        version: pythonVersion
      }
    }
  }
}

output name string = functionApp.name
output id string = functionApp.id
output principalId string = functionApp.identity.principalId
output defaultHostName string = functionApp.properties.defaultHostName
