// Azure Communication Services: the SMS sender of the phone_code proof.
// The bot's identity gets "Communication and Email Service Owner" on this resource only. Communication
// Services has no narrower built-in role for sending SMS with an Entra token, and it does not honour custom
// roles; scoping the assignment to this one resource keeps the grant as small as the platform allows. The bot
// never reads the resource's access keys (it authenticates with its managed identity).
// A phone number cannot be bought from Bicep: buy one (SMS-capable) for this resource afterwards and set it as
// OTPBOT_SMS_FROM (see docs/deploy.md, "Phone number for the texted code").
param name string
param tags object = {}

@description('Where Communication Services stores data at rest.')
@allowed([
  'United States'
  'Europe'
  'UK'
  'Australia'
  'Japan'
  'France'
  'Switzerland'
  'Germany'
  'Norway'
  'Canada'
  'India'
  'Korea'
  'UAE'
  'Africa'
  'Asia Pacific'
  'Brazil'
])
param dataLocation string = 'Europe'

@description('Object id of the identity that sends the texts (the bot).')
param senderPrincipalId string

param workspaceId string = ''

var communicationAndEmailServiceOwner = '09976791-48a7-449e-bb21-39d1a415f350'

resource acs 'Microsoft.Communication/communicationServices@2023-04-01' = {
  name: name
  location: 'global'
  tags: tags
  properties: {
    dataLocation: dataLocation
  }
}

resource sender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(acs.id, senderPrincipalId, communicationAndEmailServiceOwner)
  scope: acs
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', communicationAndEmailServiceOwner)
    principalId: senderPrincipalId
    principalType: 'ServicePrincipal'
    description: 'OTP bot: text phone_code verification codes (SMS send with the managed identity).'
  }
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = if (!empty(workspaceId)) {
  name: 'acs-to-log-analytics'
  scope: acs
  properties: {
    workspaceId: workspaceId
    logs: [
      {
        categoryGroup: 'allLogs'
        enabled: true
      }
    ]
  }
}

output name string = acs.name
output endpoint string = 'https://${acs.properties.hostName}'
