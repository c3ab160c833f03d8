// Enrolment/destroy rights on the seed vault: "Key Vault Secrets Officer" (create, update,
// disable, delete secrets; purge stays blocked by purge protection).
// Kept apart from keyvault.bicep on purpose: the identity that releases codes should not also be
// able to write or delete seeds. main.bicep applies this only when asked (grantBotEnrollRights or
// seedAdminPrincipalId); an administrator can also deploy it alone, e.g. for an enrolment window:
//   az deployment group create -g <rg> -f infra/modules/keyvault-enroll-role.bicep \
//     -p keyVaultName=<vault> principalId=<object id> principalType=Group
targetScope = 'resourceGroup'

@description('Name of the seed vault.')
param keyVaultName string

@description('Object id of the principal that may enrol, disable and delete seeds.')
param principalId string

@allowed([
  'ServicePrincipal'
  'Group'
  'User'
])
param principalType string = 'ServicePrincipal'

@description('Free text stored on the role assignment (who asked, ticket number).')
param reason string = 'OTP bot: enrol, disable and destroy seeds.'

var keyVaultSecretsOfficer = 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource secretsOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, principalId, keyVaultSecretsOfficer)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsOfficer)
    principalId: principalId
    principalType: principalType
    description: reason
  }
}

output roleAssignmentId string = secretsOfficer.id
