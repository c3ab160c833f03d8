"""Settings.from_env: read the environment once, validate, fail fast with a message naming what is wrong."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Mapping

from .core.countries import parse_countries
from .core.errors import ConfigurationError
from .core.limits import Limit, RateLimits
from .core.phone_code import check_organisation, e164
from .core.proofs import PHONE_CODE, ProofPolicy

PRODUCTION_APP_TYPES = ("SingleTenant", "UserAssignedMSI")
DELIVERIES = ("card", "direct", "conversation")
LOCAL_TENANT_ID = "00000000-0000-4000-8000-0000000000aa"
LOCAL_AGENT_IDS = "00000000-0000-4000-8000-0000000000a1,00000000-0000-4000-8000-0000000000a2"
LOCAL_LEAD_IDS = "00000000-0000-4000-8000-0000000000b1"
LOCAL_CHANNELS = "19:helpdesk-general@thread.tacv2,19:helpdesk-codes@thread.tacv2"
LOCAL_SMS_COUNTRIES = "GB,US"  # the demo directory's mobiles
_ACS_ENDPOINT = re.compile(r"^https://[a-z0-9][a-z0-9-]{0,62}\.(?:[a-z0-9-]+\.)*communication\.azure\.com/?$")
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_LIMIT = re.compile(r"^(\d{1,5})/(\d{1,4})(m|h)$")
BOT_FRAMEWORK_OPENID = "https://login.botframework.com/v1/.well-known/openidconfiguration"


@dataclass(frozen=True)
class Settings:
    local: bool
    app_id: str = ""
    tenant_id: str = ""
    app_type: str = ""
    app_password: str = field(default="", repr=False)
    keyvault_url: str = ""
    storage_account_url: str = ""  # blob endpoint: shared state, dedupe, locks, counters
    table_account_url: str = ""  # table endpoint: the audit trail
    data_dir: Path = Path(".otpbot")
    directory_file: Path | None = None
    agent_object_ids: frozenset[str] = frozenset()
    lead_object_ids: frozenset[str] = frozenset()
    privileged_object_ids: frozenset[str] = frozenset()
    agent_group_id: str = ""
    lead_group_id: str = ""
    privileged_group_ids: frozenset[str] = frozenset()
    allowed_channel_ids: frozenset[str] = frozenset()
    alerts_conversation_id: str = ""
    proofs: ProofPolicy = ProofPolicy()
    limits: RateLimits = RateLimits()
    delivery: str = "card"
    mail_sender: str = ""
    service_url: str = "https://smba.trafficmanager.net/teams/"
    tolerance_30: timedelta = timedelta(seconds=60)
    tolerance_60: timedelta = timedelta(seconds=120)
    max_ahead: timedelta = timedelta(minutes=60)
    openid_metadata_url: str = BOT_FRAMEWORK_OPENID
    max_body_bytes: int = 256 * 1024
    organisation: str = "Contoso"  # names the sender in the SMS text
    sms_countries: frozenset[str] | None = None  # calling codes; None: the tenant's country (Graph)
    acs_endpoint: str = ""  # https://<resource>.communication.azure.com
    sms_from: str = ""  # the number bought for the Communication Services resource, E.164

    @property
    def uses_graph(self) -> bool:
        return not self.local and (self.directory_file is None or bool(self.agent_group_id or self.mail_sender))

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, local: bool = False) -> "Settings":
        get = lambda name, default="": (env.get(name) or default).strip()  # noqa: E731
        data_dir = Path(get("OTPBOT_DATA_DIR", ".otpbot-local" if local else ".otpbot"))
        directory = get("OTPBOT_DIRECTORY_FILE")
        common = dict(
            data_dir=data_dir,
            directory_file=Path(directory) if directory else (data_dir / "directory.csv" if local else None),
            tolerance_30=timedelta(seconds=_int(get, "OTPBOT_TOLERANCE_30S", 60, 0, 900)),
            tolerance_60=timedelta(seconds=_int(get, "OTPBOT_TOLERANCE_60S", 120, 0, 900)),
            max_ahead=timedelta(minutes=_int(get, "OTPBOT_MAX_AHEAD_MINUTES", 60, 1, 24 * 60)),
            openid_metadata_url=get("OTPBOT_OPENID_METADATA_URL", BOT_FRAMEWORK_OPENID),
            proofs=ProofPolicy.parse(get("OTPBOT_PROOFS_STANDARD", "phone_code"),
                                     get("OTPBOT_PROOFS_PRIVILEGED", "phone_code,second_agent_approval"),
                                     get("OTPBOT_PROOFS_NO_MOBILE", "callback,second_agent_approval")),
            limits=RateLimits(_limit(get, "OTPBOT_LIMIT_PER_AGENT", "10/1h"),
                              _limit(get, "OTPBOT_LIMIT_PER_TARGET", "3/24h"),
                              _limit(get, "OTPBOT_LIMIT_GLOBAL", "60/1h"),
                              _limit(get, "OTPBOT_SMS_LIMIT_PER_TARGET", "6/24h"),
                              _limit(get, "OTPBOT_SMS_LIMIT_PER_AGENT", "20/1h")),
            delivery=_delivery(get),
            alerts_conversation_id=get("OTPBOT_ALERTS_CHANNEL_ID"),
            mail_sender=get("OTPBOT_MAIL_SENDER").lower(),
            service_url=get("OTPBOT_SERVICE_URL", "https://smba.trafficmanager.net/teams/"),
            privileged_object_ids=_guids(get("OTPBOT_PRIVILEGED_OBJECT_IDS"), "OTPBOT_PRIVILEGED_OBJECT_IDS"),
        )
        if local:
            common.update(_sms(get, common, local=True))
            return cls(local=True, tenant_id=get("MicrosoftAppTenantId", LOCAL_TENANT_ID),
                       agent_object_ids=_guids(get("OTPBOT_AGENT_OBJECT_IDS", LOCAL_AGENT_IDS), "OTPBOT_AGENT_OBJECT_IDS"),
                       lead_object_ids=_guids(get("OTPBOT_LEAD_OBJECT_IDS", LOCAL_LEAD_IDS), "OTPBOT_LEAD_OBJECT_IDS"),
                       allowed_channel_ids=_list(get("OTPBOT_ALLOWED_CHANNEL_IDS", LOCAL_CHANNELS)), **common)
        return cls._production(get, common)

    @classmethod
    def _production(cls, get, common: dict) -> "Settings":
        missing = [n for n in ("MicrosoftAppId", "MicrosoftAppTenantId", "MicrosoftAppType") if not get(n)]
        if missing:
            raise ConfigurationError(
                f"Refusing to start in production mode: {', '.join(missing)} not set. "
                "Set them (see README, Configuration), or run `otpbot serve --local` for a loopback-only trial."
            )
        app_type = get("MicrosoftAppType")
        if app_type not in PRODUCTION_APP_TYPES:
            raise ConfigurationError(
                f"Refusing to start: MicrosoftAppType is {app_type!r}; it must be SingleTenant or UserAssignedMSI "
                "(a MultiTenant bot would accept tokens minted for any tenant)."
            )
        if app_type == "SingleTenant" and not get("MicrosoftAppPassword"):
            raise ConfigurationError("Refusing to start: MicrosoftAppType is SingleTenant but MicrosoftAppPassword is not set.")
        for name in ("MicrosoftAppId", "MicrosoftAppTenantId"):
            if not _GUID.match(get(name).lower()):
                raise ConfigurationError(f"Refusing to start: {name} is not a GUID.")
        if not get("OTPBOT_KEYVAULT_URL").startswith("https://"):
            raise ConfigurationError("Refusing to start: OTPBOT_KEYVAULT_URL must be the vault's https:// URL.")
        agents = _guids(get("OTPBOT_AGENT_OBJECT_IDS"), "OTPBOT_AGENT_OBJECT_IDS")
        agent_group = _guid_or_empty(get("OTPBOT_AGENT_GROUP_ID"), "OTPBOT_AGENT_GROUP_ID")
        if not agents and not agent_group:
            raise ConfigurationError("Refusing to start: set OTPBOT_AGENT_GROUP_ID (or OTPBOT_AGENT_OBJECT_IDS); "
                                     "otherwise nobody could use the bot.")
        storage, table = get("OTPBOT_STORAGE_ACCOUNT_URL"), get("OTPBOT_TABLE_ACCOUNT_URL")
        if bool(storage) != bool(table) or any(u and not u.startswith("https://") for u in (storage, table)):
            raise ConfigurationError("Refusing to start: set both OTPBOT_STORAGE_ACCOUNT_URL and "
                                     "OTPBOT_TABLE_ACCOUNT_URL (https:// endpoints), or neither.")
        common.update(_sms(get, common, local=False))
        return cls(local=False, app_id=get("MicrosoftAppId").lower(), tenant_id=get("MicrosoftAppTenantId").lower(),
                   storage_account_url=storage, table_account_url=table,
                   app_type=app_type, app_password=get("MicrosoftAppPassword"),
                   keyvault_url=get("OTPBOT_KEYVAULT_URL"), agent_object_ids=agents, agent_group_id=agent_group,
                   lead_group_id=_guid_or_empty(get("OTPBOT_LEAD_GROUP_ID"), "OTPBOT_LEAD_GROUP_ID"),
                   lead_object_ids=_guids(get("OTPBOT_LEAD_OBJECT_IDS"), "OTPBOT_LEAD_OBJECT_IDS"),
                   privileged_group_ids=_guids(get("OTPBOT_PRIVILEGED_GROUP_IDS"), "OTPBOT_PRIVILEGED_GROUP_IDS"),
                   allowed_channel_ids=_list(get("OTPBOT_ALLOWED_CHANNEL_IDS")), **common)


def _sms(get, common: dict, local: bool) -> dict:
    """The phone_code settings. In production they are required as soon as a policy names phone_code."""
    countries = get("OTPBOT_SMS_COUNTRIES", LOCAL_SMS_COUNTRIES if local else "")
    organisation = get("OTPBOT_ORG_NAME", "Contoso" if local else "")
    endpoint, sender = get("OTPBOT_ACS_ENDPOINT").lower(), get("OTPBOT_SMS_FROM")
    if not local and common["proofs"].uses(PHONE_CODE):
        missing = [name for name, value in (("OTPBOT_ORG_NAME", organisation), ("OTPBOT_ACS_ENDPOINT", endpoint),
                                            ("OTPBOT_SMS_FROM", sender)) if not value]
        if missing:
            raise ConfigurationError(
                f"Refusing to start: the proof policy texts codes (phone_code) but {', '.join(missing)} "
                f"{'is' if len(missing) == 1 else 'are'} not set (see README, Configuration).")
    if endpoint and not _ACS_ENDPOINT.match(endpoint):
        raise ConfigurationError("Refusing to start: OTPBOT_ACS_ENDPOINT must be "
                                 "https://<resource>.communication.azure.com.")
    if sender and not e164(sender):
        raise ConfigurationError("Refusing to start: OTPBOT_SMS_FROM must be the resource's number in "
                                 "international format, e.g. +18005550123.")
    try:
        organisation = check_organisation(organisation) if organisation else ""
    except ValueError as error:
        raise ConfigurationError(f"Refusing to start: OTPBOT_ORG_NAME {error}.") from None
    return dict(organisation=organisation, sms_countries=parse_countries(countries) if countries else None,
                acs_endpoint=endpoint.rstrip("/"), sms_from=e164(sender) or "")


def _int(get, name: str, default: int, low: int, high: int) -> int:
    raw = get(name, str(default))
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ConfigurationError(f"Refusing to start: {name} must be a whole number from {low} to {high}, not {raw!r}.")
    return int(raw)


def _limit(get, name: str, default: str) -> Limit:
    raw = get(name, default)
    m = _LIMIT.match(raw)
    if not m or int(m.group(1)) < 1:
        raise ConfigurationError(f"Refusing to start: {name} must look like `10/1h` or `5/30m`, not {raw!r}.")
    return Limit(int(m.group(1)), int(m.group(2)) * (3600 if m.group(3) == "h" else 60))


def _delivery(get) -> str:
    delivery = get("OTPBOT_CODE_DELIVERY", "card").lower()
    if delivery not in DELIVERIES:
        raise ConfigurationError(f"Refusing to start: OTPBOT_CODE_DELIVERY must be one of {', '.join(DELIVERIES)}.")
    if delivery == "conversation" and get("OTPBOT_ALLOW_CODE_IN_CONVERSATION").lower() != "true":
        raise ConfigurationError("Refusing to start: OTPBOT_CODE_DELIVERY=conversation posts codes where everyone in "
                                 "the conversation can read them; set OTPBOT_ALLOW_CODE_IN_CONVERSATION=true to accept that.")
    return delivery


def _list(raw: str) -> frozenset[str]:
    return frozenset(part.strip() for part in raw.split(",") if part.strip())


def _guids(raw: str, name: str) -> frozenset[str]:
    ids = frozenset(part.lower() for part in _list(raw))
    if any(not _GUID.match(i) for i in ids):
        raise ConfigurationError(f"Refusing to start: {name} holds something that is not an object id.")
    return ids


def _guid_or_empty(raw: str, name: str) -> str:
    if raw and not _GUID.match(raw.lower()):
        raise ConfigurationError(f"Refusing to start: {name} is not a GUID.")
    return raw.lower()
