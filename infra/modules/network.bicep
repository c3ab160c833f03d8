// Private vault mode (keyVaultPrivate=true): a VNet with one subnet for the web app's outbound traffic
// (regional VNet integration) and one for private endpoints; Key Vault's private endpoint and the
// privatelink DNS zone linked to the VNet, so the vault's name resolves to its private address from the app.
param name string
param location string
param tags object = {}

@description('Address space of the VNet.')
param addressPrefix string = '10.60.0.0/24'

@description('Subnet delegated to the App Service plan (VNet integration).')
param appSubnetPrefix string = '10.60.0.0/26'

@description('Subnet for private endpoints.')
param endpointSubnetPrefix string = '10.60.0.64/26'

resource vnet 'Microsoft.Network/virtualNetworks@2023-11-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [
        addressPrefix
      ]
    }
    subnets: [
      {
        name: 'app'
        properties: {
          addressPrefix: appSubnetPrefix
          delegations: [
            {
              name: 'web'
              properties: {
                serviceName: 'Microsoft.Web/serverFarms'
              }
            }
          ]
        }
      }
      {
        name: 'private-endpoints'
        properties: {
          addressPrefix: endpointSubnetPrefix
          privateEndpointNetworkPolicies: 'Enabled'
        }
      }
    ]
  }
}

resource vaultDns 'Microsoft.Network/privateDnsZones@2020-06-01' = {
  name: 'privatelink.vaultcore.azure.net'
  location: 'global'
  tags: tags
}

resource vaultDnsLink 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2020-06-01' = {
  parent: vaultDns
  name: '${name}-link'
  location: 'global'
  properties: {
    registrationEnabled: false
    virtualNetwork: {
      id: vnet.id
    }
  }
}

output appSubnetId string = vnet.properties.subnets[0].id
output endpointSubnetId string = vnet.properties.subnets[1].id
output vaultDnsZoneId string = vaultDns.id
