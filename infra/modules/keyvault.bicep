// Key Vault in RBAC mode for the channel secrets routing.yaml references (${VAR}). The Function app
// reads them through Key Vault references in its app settings, with Key Vault Secrets User.

param name string
param location string = resourceGroup().location
param tags object = {}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    //checkov:skip=CKV_AZURE_109:The Flex Consumption app is not VNet-integrated here and Key Vault references are resolved over the public endpoint; access is RBAC only
    //checkov:skip=CKV_AZURE_189:Public network access stays on for the same reason (no VNet integration); access is RBAC only
    //checkov:skip=CKV_AZURE_110:Purge protection would block `azd down --purge` and re-creating an environment of the same name for 90 days; enable it for production vaults (docs/deploy.md)
    //checkov:skip=CKV_AZURE_42:Soft delete is always on (7 days); only purge protection is left off, for the reason above
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
    enabledForDeployment: false
    enabledForDiskEncryption: false
    enabledForTemplateDeployment: false
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

output name string = vault.name
output id string = vault.id
output uri string = vault.properties.vaultUri
