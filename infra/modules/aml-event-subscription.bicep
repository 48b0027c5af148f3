// The Event Grid subscription from an Azure ML workspace's system topic to the Event Grid trigger
// function. Event Grid validates an Azure Function endpoint against the functions the app has
// indexed, so this is deployed after the code (connect.bicep, from the azd postdeploy hook).

param systemTopicName string
param functionAppName string

@description('The Event Grid trigger function (function_app.py).')
param functionName string

param storageAccountName string
param deadLetterContainerName string

@description('Delivery attempts before an event is dead-lettered. With Event Grid\'s schedule (10 s, 30 s, 1 min, 5 min, 10 min, 30 min, 1 h, 3 h, 6 h, then every 12 h) 10 attempts span about 11 hours.')
@minValue(1)
@maxValue(30)
param maxDeliveryAttempts int = 10

@description('Minutes an event may wait for delivery before it is dead-lettered: a run notice more than 12 hours late is no longer news; the dead-letter container keeps it.')
@minValue(1)
@maxValue(1440)
param eventTimeToLiveInMinutes int = 720

resource systemTopic 'Microsoft.EventGrid/systemTopics@2022-06-15' existing = {
  name: systemTopicName
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource subscription 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = {
  parent: systemTopic
  name: 'alertrouter-${replace(functionName, '_', '-')}'
  properties: {
    destination: {
      endpointType: 'AzureFunction'
      properties: {
        resourceId: '${functionApp.id}/functions/${functionName}'
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      includedEventTypes: [
        'Microsoft.MachineLearningServices.RunCompleted'
        'Microsoft.MachineLearningServices.RunStatusChanged'
        'Microsoft.MachineLearningServices.ModelRegistered'
        'Microsoft.MachineLearningServices.ModelDeployed'
        'Microsoft.MachineLearningServices.DatasetDriftDetected'
      ]
    }
    retryPolicy: {
      maxDeliveryAttempts: maxDeliveryAttempts
      eventTimeToLiveInMinutes: eventTimeToLiveInMinutes
    }
    deadLetterWithResourceIdentity: {
      identity: {
        type: 'SystemAssigned'
      }
      deadLetterDestination: {
        endpointType: 'StorageBlob'
        properties: {
          resourceId: storage.id
          blobContainerName: deadLetterContainerName
        }
      }
    }
  }
}

output name string = subscription.name
