// Storage account for the Functions host (AzureWebJobsStorage, deployment package) and for the
// router's Azure store (Tables + the delivery queue). Reached only through Entra ID: shared keys off.

param name string
param location string = resourceGroup().location
param tags object = {}

@description('Blob containers to create (deployment package, Event Grid dead letters).')
param containerNames array = []

@description('Storage queues to create (the router\'s delivery queue).')
param queueNames array = []

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    //checkov:skip=CKV_AZURE_206:Locally redundant on purpose: the store holds event ids, delivery state and dead letters that Event Grid and Action Groups can resend; GRS doubles the idle cost
    //checkov:skip=CKV_AZURE_59:The Flex Consumption app is not VNet-integrated here, so it reaches storage over the public endpoint; access is Entra ID only (shared keys off)
    //checkov:skip=CKV_AZURE_35:Default action Allow for the same reason: no VNet integration; every request still needs an Entra ID token with a data role
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    dnsEndpointType: 'Standard'
    minimumTlsVersion: 'TLS1_2'
    publicNetworkAccess: 'Enabled'
    supportsHttpsTrafficOnly: true
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }

  resource blobServices 'blobServices' = {
    name: 'default'
    properties: {
      deleteRetentionPolicy: {
        enabled: true
        days: 7
      }
    }
  }

  resource queueServices 'queueServices' = {
    name: 'default'
  }
}

resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [for containerName in containerNames: {
  parent: storage::blobServices
  name: containerName
  properties: {
    publicAccess: 'None'
  }
}]

resource queues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [for queueName in queueNames: {
  parent: storage::queueServices
  name: queueName
}]

output name string = storage.name
output id string = storage.id
output primaryBlobEndpoint string = storage.properties.primaryEndpoints.blob
