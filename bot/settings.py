"""Settings.from_env: read the environment once, validate, fail fast with a message naming what is wrong."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Mapping

from .core.errors import ConfigurationError

PRODUCTION_APP_TYPES = ("SingleTenant", "UserAssignedMSI")
LOCAL_TENANT_ID = "00000000-0000-4000-8000-0000000000aa"
LOCAL_AGENT_IDS = ("00000000-0000-4000-8000-0000000000a1", "00000000-0000-4000-8000-0000000000a2")
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
BOT_FRAMEWORK_OPENID = "https://login.botframework.com/v1/.well-known/openidconfiguration"


@dataclass(frozen=True)
class Settings:
    local: bool
    app_id: str = ""
    tenant_id: str = ""
    app_type: str = ""
    app_password: str = field(default="", repr=False)
    keyvault_url: str = ""
    data_dir: Path = Path(".otpbot")
    directory_file: Path | None = None
    agent_object_ids: frozenset[str] = frozenset()
    tolerance_30: timedelta = timedelta(seconds=60)
    tolerance_60: timedelta = timedelta(seconds=120)
    max_ahead: timedelta = timedelta(minutes=60)
    openid_metadata_url: str = BOT_FRAMEWORK_OPENID
    max_body_bytes: int = 256 * 1024

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
        )
        if local:
            agents = _guids(get("OTPBOT_AGENT_OBJECT_IDS"), "OTPBOT_AGENT_OBJECT_IDS") or frozenset(LOCAL_AGENT_IDS)
            return cls(local=True, tenant_id=get("MicrosoftAppTenantId", LOCAL_TENANT_ID),
                       agent_object_ids=agents, **common)
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
        if common["directory_file"] is None:
            raise ConfigurationError("Refusing to start: OTPBOT_DIRECTORY_FILE is not set (the Graph directory comes later).")
        agents = _guids(get("OTPBOT_AGENT_OBJECT_IDS"), "OTPBOT_AGENT_OBJECT_IDS")
        if not agents:
            raise ConfigurationError("Refusing to start: OTPBOT_AGENT_OBJECT_IDS is empty, so nobody could use the bot.")
        return cls(local=False, app_id=get("MicrosoftAppId").lower(), tenant_id=get("MicrosoftAppTenantId").lower(),
                   app_type=app_type, app_password=get("MicrosoftAppPassword"),
                   keyvault_url=get("OTPBOT_KEYVAULT_URL"), agent_object_ids=agents, **common)


def _int(get, name: str, default: int, low: int, high: int) -> int:
    raw = get(name, str(default))
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ConfigurationError(f"Refusing to start: {name} must be a whole number from {low} to {high}, not {raw!r}.")
    return int(raw)


def _guids(raw: str, name: str) -> frozenset[str]:
    ids = frozenset(part.strip().lower() for part in raw.split(",") if part.strip())
    bad = [i for i in ids if not _GUID.match(i)]
    if bad:
        raise ConfigurationError(f"Refusing to start: {name} holds something that is not an object id.")
    return ids
