// Event Grid system topic on an existing Azure ML workspace, in the router's resource group and
// the workspace's region. Its identity may write dead letters to one container (and only there).
// The subscription to the function comes later, in connect.bicep (after the code is deployed).

param name string
param tags object = {}

@description('Resource id of the Azure ML workspace (/subscriptions/…/resourceGroups/…/providers/Microsoft.MachineLearningServices/workspaces/…).')
param workspaceId string

param storageAccountName string
param deadLetterContainerName string

var workspaceIdParts = split(workspaceId, '/')
var storageBlobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'

resource workspace 'Microsoft.MachineLearningServices/workspaces@2024-04-01' existing = {
  name: last(workspaceIdParts)
  scope: resourceGroup(workspaceIdParts[2], workspaceIdParts[4])
}

resource systemTopic 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: name
  location: workspace.location
  tags: tags
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    source: workspaceId
    topicType: 'Microsoft.MachineLearningServices.Workspaces'
  }
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName

  resource blobServices 'blobServices' existing = {
    name: 'default'

    resource deadLetters 'containers' existing = {
      name: deadLetterContainerName
    }
  }
}

resource deadLetterWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage::blobServices::deadLetters.id, systemTopic.id, storageBlobDataContributor)
  scope: storage::blobServices::deadLetters
  properties: {
    principalId: systemTopic.identity.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataContributor)
  }
}

output name string = systemTopic.name
