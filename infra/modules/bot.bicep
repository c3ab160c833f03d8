// Azure Bot registration: the user-assigned identity is the bot's app id (no client secret),
// messages go to https://<app>/api/messages, and Microsoft Teams is the only channel created.
param name string
param tags object = {}

@description('Bot Service location: global, or a regional one for data residency.')
@allowed([
  'global'
  'westeurope'
  'westus'
  'centralindia'
])
param location string = 'global'

@allowed([
  'F0'
  'S1'
])
param sku string = 'F0'

param displayName string = 'OTP Bot'
param endpoint string
param identityId string
param identityClientId string
param tenantId string

resource bot 'Microsoft.BotService/botServices@2022-09-15' = {
  name: name
  location: location
  tags: tags
  kind: 'azurebot'
  sku: {
    name: sku
  }
  properties: {
    displayName: displayName
    endpoint: endpoint
    msaAppType: 'UserAssignedMSI'
    msaAppId: identityClientId
    msaAppMSIResourceId: identityId
    msaAppTenantId: tenantId
    // Only Entra ID / managed-identity auth: no Direct Line or Web Chat secrets.
    disableLocalAuth: true
    isStreamingSupported: false
    schemaTransformationVersion: '1.3'
    publicNetworkAccess: 'Enabled'
  }
}

resource teams 'Microsoft.BotService/botServices/channels@2022-09-15' = {
  parent: bot
  name: 'MsTeamsChannel'
  location: location
  properties: {
    channelName: 'MsTeamsChannel'
    properties: {
      isEnabled: true
      enableCalling: false
    }
  }
}

output name string = bot.name
