"""Directory, group membership and mail on Microsoft Graph v1.0: the ports, on one shared GraphClient
(graph_client.py: deadlines, retries, error mapping, token cache)."""

from __future__ import annotations

import logging
import re
from typing import Any

import aiohttp
from azure.core.credentials_async import AsyncTokenCredential

from bot.core.models import Person

from .graph_client import DEFAULT_DEADLINE, GRAPH_URL, GraphClient, GraphFailure, path_segment

__all__ = ["GraphClient", "GraphDirectory", "GraphGroupMembership", "GraphMailer", "tenant_country"]

log = logging.getLogger("otpbot." + __name__.removeprefix("bot."))  # under "otpbot": exported
CHECK_GROUPS_LIMIT = 20  # checkMemberGroups takes at most 20 group ids per request
USER_FIELDS = "id,userPrincipalName,displayName,mobilePhone,businessPhones,accountEnabled"
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


class _GraphAdapter:
    def __init__(self, client: GraphClient, *, owns_client: bool = False) -> None:
        self._client, self._owns_client = client, owns_client

    @classmethod
    def from_credential(cls, credential: AsyncTokenCredential, *args: Any, session: aiohttp.ClientSession | None = None,
                        base_url: str = GRAPH_URL, deadline: float = DEFAULT_DEADLINE, **kwargs: Any) -> Any:
        """An adapter with a client of its own (closed by close()). To share one client, pass it to __init__."""
        client = GraphClient.from_credential(credential, session=session, base_url=base_url, deadline=deadline)
        return cls(client, *args, owns_client=True, **kwargs)

    async def close(self) -> None:
        if self._owns_client:
            await self._client.close()


class GraphDirectory(_GraphAdapter):
    """Directory on Graph. Exact UPN matches only; disabled accounts are found with enabled=False."""

    async def find_by_upn(self, upn: str) -> Person | None:
        """The user whose UPN equals `upn` (ignoring case), else None.

        /users/{key} also resolves object ids, so the returned UPN must equal the one asked for.
        """
        wanted = upn.strip()
        if not wanted:
            return None
        return await self._lookup(f"/users/{path_segment(wanted)}", "userPrincipalName", wanted.lower())

    async def find_by_object_id(self, object_id: str) -> Person | None:
        wanted = object_id.strip().lower()
        if not _GUID.fullmatch(wanted):
            return None  # anything else would be resolved by Graph as a UPN
        return await self._lookup(f"/users/{wanted}", "id", wanted)

    async def _lookup(self, path: str, field: str, wanted: str) -> Person | None:
        async def lookup() -> Person | None:
            status, user = await self._client.request("GET", f"{path}?$select={USER_FIELDS}", kind="user",
                                                      accept_404=True)
            if status == 404 or not user:
                return None
            if str(user.get(field) or "").lower() != wanted:
                log.info("Microsoft Graph returned a different user than asked for; treated as not found")
                return None
            enabled = user.get("accountEnabled")
            if not isinstance(enabled, bool):
                raise GraphFailure("incomplete")
            return await self._person(user, enabled)

        return await self._client.run(lookup, "the user could not be looked up")

    async def _person(self, user: dict, enabled: bool) -> Person:
        object_id = str(user.get("id") or "").lower()
        status, manager = await self._client.request(
            "GET", f"/users/{path_segment(object_id)}/manager?$select=userPrincipalName", kind="manager",
            accept_404=True)
        manager_upn = (manager or {}).get("userPrincipalName") if status != 404 else None
        upn = str(user["userPrincipalName"]).lower()
        return Person(upn=upn, object_id=object_id, display_name=str(user.get("displayName") or upn),
                      phone_of_record=_phone_of_record(user),
                      manager_upn=manager_upn.lower() if isinstance(manager_upn, str) and manager_upn else None,
                      enabled=enabled, mobile=_text(user.get("mobilePhone")))


def _text(value) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _phone_of_record(user: dict) -> str | None:
    """mobilePhone, else the first businessPhones entry; blanks count as absent."""
    for phone in [user.get("mobilePhone"), *(user.get("businessPhones") or ())]:
        if isinstance(phone, str) and phone.strip():
            return phone.strip()
    return None


class GraphGroupMembership(_GraphAdapter):
    """Transitive membership via checkMemberGroups (needs GroupMember.Read.All or Directory.Read.All)."""

    async def member_of(self, object_id: str, group_ids: list[str]) -> set[str]:
        wanted = list(dict.fromkeys(g.strip().lower() for g in group_ids))
        if not wanted:
            return set()
        path = f"/users/{path_segment(object_id.strip().lower())}/checkMemberGroups"

        async def check() -> set[str]:
            found: set[str] = set()
            for start in range(0, len(wanted), CHECK_GROUPS_LIMIT):
                chunk = wanted[start:start + CHECK_GROUPS_LIMIT]
                status, body = await self._client.request("POST", path, kind="checkMemberGroups",
                                                          json={"groupIds": chunk}, accept_404=True)
                if status == 404:
                    return set()  # no such user: a member of nothing
                values = (body or {}).get("value")
                if not isinstance(values, list):
                    raise GraphFailure("error")
                found |= {v.lower() for v in values if isinstance(v, str)}
            return found & set(wanted)  # never trust more than was asked

        return await self._client.run(check, "group membership could not be checked")


class GraphMailer(_GraphAdapter):
    """Plain-text mail from `sender_upn`'s mailbox (Mail.Send, ideally limited to that mailbox)."""

    def __init__(self, client: GraphClient, sender_upn: str, *, owns_client: bool = False) -> None:
        super().__init__(client, owns_client=owns_client)
        self.sender_upn = sender_upn

    async def send(self, to_upn: str, subject: str, body: str) -> None:
        message = {"message": {"subject": subject, "body": {"contentType": "Text", "content": body},
                               "toRecipients": [{"emailAddress": {"address": to_upn}}]},
                   "saveToSentItems": False}  # a mailed code must not linger in the sender's Sent Items

        async def send() -> None:
            await self._client.request("POST", f"/users/{path_segment(self.sender_upn)}/sendMail", kind="sendMail",
                                       json=message, idempotent=False)

        await self._client.run(send, "the e-mail may not have been sent")


async def tenant_country(client: GraphClient) -> str:
    """The tenant's country letters (Graph organization.countryLetterCode; needs Organization.Read.All or
    Directory.Read.All): by default, codes are texted only to mobiles of that country."""

    async def read() -> str:
        _, body = await client.request("GET", "/organization?$select=countryLetterCode", kind="organization")
        values = (body or {}).get("value") or [{}]
        return str(values[0].get("countryLetterCode") or "")

    return await client.run(read, "the tenant's country could not be read")
