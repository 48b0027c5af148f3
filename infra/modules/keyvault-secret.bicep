// One channel secret in the vault; nothing is created for an empty value (the channel stays unset
// and the router sends its notifications to the log channel).

param keyVaultName string

@description('Secret name: the routing.yaml variable in lower case with dashes (SE_TEAMS_WEBHOOK_URL -> se-teams-webhook-url).')
param name string

@secure()
@description('The secret value; empty: no secret.')
param value string

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource secret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(value)) {
  parent: vault
  name: name
  properties: {
    //checkov:skip=CKV_AZURE_41:Channel secrets (webhook URLs, routing keys) have no natural expiry; an expired secret would silently turn a channel off. Rotate them as docs/deploy.md says
    //checkov:skip=CKV_AZURE_114:contentType is set below; checkov does not read the properties of a conditional (if) resource
    value: value
    contentType: 'text/plain'
    attributes: {
      enabled: true
    }
  }
}
