// Linux App Service plan + Web App running the bot (built-in Python image, Oryx build, gunicorn).
param planName string
param appName string
param location string
param tags object = {}

@description('App Service plan SKU. Always On needs Basic or higher; deployment slots need Standard or higher.')
param planSku string = 'P0v3'

@description('Number of instances. Keep 1 unless every piece of state is in shared storage.')
@minValue(1)
@maxValue(10)
param instanceCount int = 1

@description('Spread instances over availability zones (Premium v3, at least 2 instances, region support needed).')
param zoneRedundant bool = false

@description('Resource id of the user-assigned identity the app runs as.')
param identityId string
@description('Client id of that identity: the bot\'s Microsoft App ID and AZURE_CLIENT_ID.')
param identityClientId string
param tenantId string

param keyVaultUrl string
param blobEndpoint string
param tableEndpoint string
param appInsightsConnectionString string
param workspaceId string

param agentGroupId string = ''
param leadGroupId string = ''
param allowedChannelIds string = ''
param alertsChannelId string = ''

@description('https://<resource>.communication.azure.com: the SMS sender of the phone_code proof.')
param acsEndpoint string = ''
param smsFromNumber string = ''
param organisationName string = ''
param smsCountries string = ''

@description('Seconds App Service waits after SIGTERM before killing the app (WEBSITES_CONTAINER_STOP_TIME_LIMIT; platform default 5, max 120). Keep gunicorn\'s graceful_timeout below it.')
@minValue(5)
@maxValue(120)
param stopTimeLimitSeconds int = 30

@description('Accept inbound requests only from the AzureBotService service tag (the Bot Connector). Verify in your tenant before relying on it.')
param restrictInboundToBotService bool = false

@description('Subnet for regional VNet integration (private vault mode); empty for none.')
param vnetSubnetId string = ''

var botServiceOnly = [
  {
    name: 'AzureBotService'
    action: 'Allow'
    tag: 'ServiceTag'
    ipAddress: 'AzureBotService'
    priority: 100
  }
]

resource plan 'Microsoft.Web/serverfarms@2023-12-01' = {
  // checkov:skip=CKV_AZURE_225: zoneRedundant is a parameter (default false): it needs Premium v3, at least 2 instances and a region with zones, and one instance is the cost-lean default; all state is in shared storage (Blob/Table), so set instanceCount >= 2 with it for zone failover.
  name: planName
  location: location
  tags: tags
  kind: 'linux'
  sku: {
    name: planSku
    capacity: instanceCount
  }
  properties: {
    reserved: true
    zoneRedundant: zoneRedundant
  }
}

resource app 'Microsoft.Web/sites@2023-12-01' = {
  // checkov:skip=CKV_AZURE_222: Teams reaches the bot through the Bot Connector over the internet, so /api/messages must be public; every request must carry a valid Bot Framework JWT, and restrictInboundToBotService limits callers to the AzureBotService service tag.
  // checkov:skip=CKV_AZURE_17: The Bot Connector does not present client certificates; callers authenticate with a Bot Framework JWT validated by the app.
  // checkov:skip=CKV_AZURE_212: instanceCount is a parameter (default 1, the cost-lean choice for a helpdesk's load): all state is in shared storage (Blob/Table, tested with two instances), so raise it for failover.
  name: appName
  location: location
  tags: union(tags, {
    'azd-service-name': 'bot'
  })
  kind: 'app,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientAffinityEnabled: false
    clientCertEnabled: false
    publicNetworkAccess: 'Enabled'
    virtualNetworkSubnetId: empty(vnetSubnetId) ? null : vnetSubnetId
    vnetRouteAllEnabled: !empty(vnetSubnetId)
    siteConfig: {
      linuxFxVersion: 'PYTHON|3.12'
      appCommandLine: 'gunicorn --config gunicorn.conf.py bot.wsgi:app'
      alwaysOn: true
      ftpsState: 'Disabled'
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      http20Enabled: true
      healthCheckPath: '/readyz'  // vault, storage, OpenID keys; /healthz stays liveness
      remoteDebuggingEnabled: false
      webSocketsEnabled: false
      use32BitWorkerProcess: false
      ipSecurityRestrictions: restrictInboundToBotService ? botServiceOnly : []
      ipSecurityRestrictionsDefaultAction: restrictInboundToBotService ? 'Deny' : 'Allow'
      scmIpSecurityRestrictionsUseMain: false
      appSettings: [
        {
          name: 'MicrosoftAppType'
          value: 'UserAssignedMSI'
        }
        {
          name: 'MicrosoftAppId'
          value: identityClientId
        }
        {
          name: 'MicrosoftAppTenantId'
          value: tenantId
        }
        {
          name: 'AZURE_CLIENT_ID'
          value: identityClientId
        }
        {
          name: 'OTPBOT_KEYVAULT_URL'
          value: keyVaultUrl
        }
        {
          name: 'OTPBOT_STORAGE_ACCOUNT_URL'
          value: blobEndpoint
        }
        {
          name: 'OTPBOT_TABLE_ACCOUNT_URL'
          value: tableEndpoint
        }
        {
          name: 'OTPBOT_AGENT_GROUP_ID'
          value: agentGroupId
        }
        {
          name: 'OTPBOT_LEAD_GROUP_ID'
          value: leadGroupId
        }
        {
          name: 'OTPBOT_ALLOWED_CHANNEL_IDS'
          value: allowedChannelIds
        }
        {
          name: 'OTPBOT_ALERTS_CHANNEL_ID'
          value: alertsChannelId
        }
        {
          name: 'OTPBOT_ACS_ENDPOINT'
          value: acsEndpoint
        }
        {
          name: 'OTPBOT_SMS_FROM'
          value: smsFromNumber
        }
        {
          name: 'OTPBOT_ORG_NAME'
          value: organisationName
        }
        {
          name: 'OTPBOT_SMS_COUNTRIES'
          value: smsCountries
        }
        {
          name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
          value: appInsightsConnectionString
        }
        {
          name: 'SCM_DO_BUILD_DURING_DEPLOYMENT'
          value: 'true'
        }
        {
          name: 'WEBSITES_CONTAINER_STOP_TIME_LIMIT'
          value: string(stopTimeLimitSeconds)
        }
      ]
    }
  }
}

// No FTP or SCM (Kudu) user/password publishing: deployments authenticate with Entra ID.
resource ftpBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2023-12-01' = {
  parent: app
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2023-12-01' = {
  parent: app
  name: 'scm'
  properties: {
    allow: false
  }
}

resource appLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'app-to-log-analytics'
  scope: app
  properties: {
    workspaceId: workspaceId
    logs: [
      {
        category: 'AppServiceHTTPLogs'
        enabled: true
      }
      {
        category: 'AppServiceConsoleLogs'
        enabled: true
      }
      {
        category: 'AppServiceAppLogs'
        enabled: true
      }
      {
        category: 'AppServicePlatformLogs'
        enabled: true
      }
      {
        category: 'AppServiceAuditLogs'
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

output id string = app.id
output name string = app.name
output hostName string = app.properties.defaultHostName
output possibleOutboundIps array = split(app.properties.possibleOutboundIpAddresses, ',')
