#!/usr/bin/env sh
# azd postprovision hook (azure.yaml; also run by m365agents.yml's provision through azd): grants the bot's
# managed identity its Microsoft Graph application permissions as app-role assignments, idempotently.
# A managed identity has no consent prompt: the assignment *is* the admin consent, so whoever runs
# `azd up` needs Privileged Role Administrator (or Global Administrator) in Entra ID.
#   User.Read.All         UPN -> object id, phone of record, manager of record
#   GroupMember.Read.All  checkMemberGroups for the agent and lead groups
#   Mail.Send             only when OTPBOT_MAIL_SENDER is set (release notices by e-mail)
set -eu
MI="${BOT_IDENTITY_PRINCIPAL_ID:?BOT_IDENTITY_PRINCIPAL_ID is not set: run this after azd provision}"
GRAPH_APP=00000003-0000-0000-c000-000000000000
GRAPH=https://graph.microsoft.com/v1.0
PERMISSIONS="User.Read.All GroupMember.Read.All"
if [ -n "${OTPBOT_MAIL_SENDER:-}" ]; then PERMISSIONS="$PERMISSIONS Mail.Send"; fi

GRAPH_SP=$(az ad sp show --id "$GRAPH_APP" --query id -o tsv)
HAVE=$(az rest --method GET --uri "$GRAPH/servicePrincipals/$MI/appRoleAssignments" --query "value[].appRoleId" -o tsv)
for PERMISSION in $PERMISSIONS; do
  ROLE=$(az ad sp show --id "$GRAPH_APP" \
    --query "appRoles[?value=='$PERMISSION' && contains(allowedMemberTypes, 'Application')].id | [0]" -o tsv)
  if [ -z "$ROLE" ]; then echo "Microsoft Graph has no application permission $PERMISSION" >&2; exit 1; fi
  if printf '%s\n' "$HAVE" | grep -qx "$ROLE"; then
    echo "Graph $PERMISSION: already granted"
    continue
  fi
  az rest --method POST --uri "$GRAPH/servicePrincipals/$MI/appRoleAssignments" \
    --headers Content-Type=application/json \
    --body "{\"principalId\":\"$MI\",\"resourceId\":\"$GRAPH_SP\",\"appRoleId\":\"$ROLE\"}" >/dev/null
  echo "Graph $PERMISSION: granted"
done
