// Key Vault holding the TOTP seeds (secrets named totp-<user object id>).
// RBAC mode only; purge protection on; every data-plane call logged (AuditEvent) to Log Analytics.
// The bot identity gets read access (Key Vault Secrets User) and nothing else here: write/delete
// rights for enrolment are granted by keyvault-enroll-role.bicep, on purpose a separate step.
param name string
param location string
param tags object = {}

@description('Principal id of the bot identity (gets Key Vault Secrets User).')
param readerPrincipalId string

@description('Log Analytics workspace receiving the AuditEvent logs.')
param workspaceId string

@description('Public network access to the vault data plane. Disabled needs the private endpoint and VNet integration that main.bicep builds with keyVaultPrivate=true.')
@allowed([
  'Enabled'
  'Disabled'
])
param publicNetworkAccess string = 'Enabled'

@description('Firewall default. Deny: only the app\'s possible outbound IPs and allowedIpRanges reach the data plane. Allow: any network (RBAC still applies).')
@allowed([
  'Deny'
  'Allow'
])
param networkDefaultAction string = 'Deny'

@description('The web app\'s possible outbound IPv4 addresses.')
param appOutboundIps array = []

@description('Extra IPv4 addresses/CIDR ranges allowed to reach the vault (e.g. the seed administrators\' network for `otpbot import`).')
param allowedIpRanges array = []

var keyVaultSecretsUser = '4633458b-17de-408a-b874-0445c86b69e6'
var allowed = union(appOutboundIps, allowedIpRanges)

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // checkov:skip=CKV_AZURE_189: publicNetworkAccess is a parameter: main.bicep's keyVaultPrivate=true sets it Disabled (private endpoint + VNet-integrated app); the default mode keeps the public endpoint behind a default-Deny firewall that admits only the app's outbound IPs and listed admin ranges, and RBAC gates every call.
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    enabledForDeployment: false
    enabledForDiskEncryption: false
    enabledForTemplateDeployment: false
    publicNetworkAccess: publicNetworkAccess
    networkAcls: {
      defaultAction: networkDefaultAction
      bypass: 'None'
      ipRules: [for ip in allowed: {
        value: ip
      }]
      virtualNetworkRules: []
    }
  }
}

resource secretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, readerPrincipalId, keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUser)
    principalId: readerPrincipalId
    principalType: 'ServicePrincipal'
    description: 'OTP bot: read seeds to release codes.'
  }
}

resource audit 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'audit-to-log-analytics'
  scope: vault
  properties: {
    workspaceId: workspaceId
    logs: [
      {
        category: 'AuditEvent'
        enabled: true
      }
    ]
    metrics: [
      {
        category: 'AllMetrics'
        enabled: true
      }
    ]
  }
}

output id string = vault.id
output name string = vault.name
output uri string = vault.properties.vaultUri
