// The one user-assigned managed identity: the bot's Microsoft App ID (Bot Framework auth),
// and the principal that reads Key Vault and uses Storage. No passwords, no keys.
@description('Identity name.')
param name string
param location string
param tags object = {}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
output tenantId string = identity.properties.tenantId
