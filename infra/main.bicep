// Helpdesk OTP bot: everything `azd up` provisions.
//   identity (user-assigned) -- bot app id, Key Vault reader, Storage data contributor
//   Log Analytics + Application Insights
//   Storage (blob `botstate`, table `audit`), Entra ID only
//   App Service plan (Linux) + Web App (Python 3.12, gunicorn)
//   Key Vault (RBAC, purge protection, audit logs), firewall allowing the app's outbound IPs
//   Azure Bot (UserAssignedMSI) with only the Microsoft Teams channel
//   Communication Services (SMS for the phone_code proof), the identity allowed to send from it
// Outputs feed `otpbot package` (BOT_ID, APP_HOSTNAME, TEAMS_APP_ID) and the docs.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name; part of every resource name and of the Teams app id.')
param environmentName string

@minLength(1)
@description('Region for every resource except the Bot registration.')
param location string

@description('Resource group name; default rg-<environmentName>.')
param resourceGroupName string = ''

@description('App Service plan SKU (P0v3 default: Always On, slots, zone redundancy possible).')
param appServicePlanSku string = 'P0v3'

@minValue(1)
@maxValue(10)
@description('App Service instances.')
param instanceCount int = 1

param zoneRedundant bool = false

@allowed([
  'F0'
  'S1'
])
param botSku string = 'F0'

@allowed([
  'global'
  'westeurope'
  'westus'
  'centralindia'
])
param botLocation string = 'global'

@allowed([
  'Enabled'
  'Disabled'
])
@description('Key Vault public network access. Disabled requires a private endpoint + VNet integration, which this template does not create.')
param keyVaultPublicNetworkAccess string = 'Enabled'

@description('Private vault: Key Vault behind a private endpoint, public network access Disabled, the web app VNet-integrated (all outbound through the VNet). Off: the vault firewall admits only the app\'s outbound IPs.')
param keyVaultPrivate bool = false

@allowed([
  'Deny'
  'Allow'
])
@description('Key Vault firewall default action. Deny: only the app\'s outbound IPs and keyVaultAllowedIpRanges reach the vault.')
param keyVaultNetworkDefaultAction string = 'Deny'

@description('Comma-separated extra IPv4 addresses/CIDR ranges allowed through the Key Vault firewall (seed administrators running `otpbot import`).')
param keyVaultAllowedIpRanges string = ''

@description('Give the bot identity Key Vault Secrets Officer (write/disable/delete seeds). Off: the bot can only read seeds.')
param grantBotEnrollRights bool = false

@description('Object id of an Entra group (ideally PIM-managed) of seed administrators to get Key Vault Secrets Officer; empty for none.')
param seedAdminPrincipalId string = ''

@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
  'Standard_RAGRS'
  'Standard_RAGZRS'
])
param storageSku string = 'Standard_GRS'

@minValue(30)
@maxValue(730)
param logRetentionInDays int = 90

param appInsightsDisableLocalAuth bool = false

@minValue(5)
@maxValue(120)
@description('WEBSITES_CONTAINER_STOP_TIME_LIMIT: seconds between SIGTERM and SIGKILL on stop/restart/scale-in.')
param stopTimeLimitSeconds int = 30

param restrictInboundToBotService bool = false

@description('Entra group of helpdesk agents (object id).')
param agentGroupId string = ''

@description('Entra group of helpdesk leads (object id).')
param leadGroupId string = ''

@description('Comma-separated Teams channel ids where the bot accepts commands.')
param allowedChannelIds string = ''

@description('Teams channel id for alerts.')
param alertsChannelId string = ''

@description('Organisation name the verification text is signed with ("<name> IT: your helpdesk verification code is ...").')
param organisationName string = ''

@description('The SMS-capable number bought for the Communication Services resource, E.164 (+18005550123). Buy it after the first `azd up` (docs/deploy.md); until it is set the bot refuses to start, naming it.')
param smsFromNumber string = ''

@description('Comma-separated ISO country letters or calling codes verification codes may be texted to; empty: the tenant\'s own country.')
param smsCountries string = ''

@description('Data location of the Communication Services resource.')
param communicationDataLocation string = 'Europe'

var tags = {
  'azd-env-name': environmentName
  app: 'helpdesk-otp-bot'
}
var token = toLower(uniqueString(subscription().id, environmentName, location))
var keyVaultName = 'kv-otp-${token}'
var teamsAppId = guid(subscription().id, environmentName, 'helpdesk-otp-bot-teams-app')

resource rg 'Microsoft.Resources/resourceGroups@2022-09-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: 'id-otpbot-${token}'
    location: location
    tags: tags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: 'log-otpbot-${token}'
    appInsightsName: 'appi-otpbot-${token}'
    location: location
    tags: tags
    retentionInDays: logRetentionInDays
    telemetryPrincipalId: identity.outputs.principalId
    disableLocalAuth: appInsightsDisableLocalAuth
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: 'stotp${token}'
    location: location
    tags: tags
    storageSku: storageSku
    dataPrincipalId: identity.outputs.principalId
    workspaceId: monitoring.outputs.workspaceId
  }
}

module communication 'modules/communication.bicep' = {
  name: 'communication'
  scope: rg
  params: {
    name: 'acs-otpbot-${token}'
    tags: tags
    dataLocation: communicationDataLocation
    senderPrincipalId: identity.outputs.principalId
    workspaceId: monitoring.outputs.workspaceId
  }
}

module network 'modules/network.bicep' = if (keyVaultPrivate) {
  name: 'network'
  scope: rg
  params: {
    name: 'vnet-otpbot-${token}'
    location: location
    tags: tags
  }
}

module web 'modules/appservice.bicep' = {
  name: 'appservice'
  scope: rg
  params: {
    planName: 'plan-otpbot-${token}'
    appName: 'app-otpbot-${token}'
    location: location
    tags: tags
    planSku: appServicePlanSku
    instanceCount: instanceCount
    zoneRedundant: zoneRedundant
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    tenantId: tenant().tenantId
    keyVaultUrl: 'https://${keyVaultName}${environment().suffixes.keyvaultDns}/'
    blobEndpoint: storage.outputs.blobEndpoint
    tableEndpoint: storage.outputs.tableEndpoint
    appInsightsConnectionString: monitoring.outputs.appInsightsConnectionString
    workspaceId: monitoring.outputs.workspaceId
    agentGroupId: agentGroupId
    leadGroupId: leadGroupId
    allowedChannelIds: allowedChannelIds
    alertsChannelId: alertsChannelId
    acsEndpoint: communication.outputs.endpoint
    smsFromNumber: smsFromNumber
    organisationName: organisationName
    smsCountries: smsCountries
    stopTimeLimitSeconds: stopTimeLimitSeconds
    restrictInboundToBotService: restrictInboundToBotService
    vnetSubnetId: keyVaultPrivate ? network.outputs.appSubnetId : ''
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    name: keyVaultName
    location: location
    tags: tags
    readerPrincipalId: identity.outputs.principalId
    workspaceId: monitoring.outputs.workspaceId
    publicNetworkAccess: keyVaultPrivate ? 'Disabled' : keyVaultPublicNetworkAccess
    networkDefaultAction: keyVaultPrivate ? 'Deny' : keyVaultNetworkDefaultAction
    appOutboundIps: keyVaultPrivate ? [] : web.outputs.possibleOutboundIps
    allowedIpRanges: empty(keyVaultAllowedIpRanges) ? [] : split(replace(keyVaultAllowedIpRanges, ' ', ''), ',')
  }
}

module keyVaultEndpoint 'modules/keyvault-private-endpoint.bicep' = if (keyVaultPrivate) {
  name: 'keyvault-private-endpoint'
  scope: rg
  params: {
    vaultName: keyVault.outputs.name
    location: location
    tags: tags
    subnetId: network.outputs.endpointSubnetId
    dnsZoneId: network.outputs.vaultDnsZoneId
  }
}

module botEnrollRights 'modules/keyvault-enroll-role.bicep' = if (grantBotEnrollRights) {
  name: 'keyvault-enroll-bot'
  scope: rg
  params: {
    keyVaultName: keyVault.outputs.name
    principalId: identity.outputs.principalId
    principalType: 'ServicePrincipal'
    reason: 'OTP bot identity: enrol/revoke commands (grantBotEnrollRights).'
  }
}

module seedAdminRights 'modules/keyvault-enroll-role.bicep' = if (!empty(seedAdminPrincipalId)) {
  name: 'keyvault-enroll-admins'
  scope: rg
  params: {
    keyVaultName: keyVault.outputs.name
    principalId: seedAdminPrincipalId
    principalType: 'Group'
    reason: 'Seed administrators (seedAdminPrincipalId).'
  }
}

module bot 'modules/bot.bicep' = {
  name: 'bot'
  scope: rg
  params: {
    name: 'bot-otpbot-${token}'
    location: botLocation
    tags: tags
    sku: botSku
    endpoint: 'https://${web.outputs.hostName}/api/messages'
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    tenantId: tenant().tenantId
  }
}

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output BOT_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output BOT_ID string = identity.outputs.clientId
output BOT_SERVICE_NAME string = bot.outputs.name
output BOT_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output APP_HOSTNAME string = web.outputs.hostName
output WEB_APP_NAME string = web.outputs.name
output BOT_AZURE_APP_SERVICE_RESOURCE_ID string = web.outputs.id
output TEAMS_APP_ID string = teamsAppId
output KEYVAULT_URL string = keyVault.outputs.uri
output KEYVAULT_NAME string = keyVault.outputs.name
output STORAGE_ACCOUNT_URL string = storage.outputs.blobEndpoint
output TABLE_ACCOUNT_URL string = storage.outputs.tableEndpoint
output ACS_ENDPOINT string = communication.outputs.endpoint
output ACS_NAME string = communication.outputs.name
output LOG_ANALYTICS_WORKSPACE_ID string = monitoring.outputs.workspaceId
