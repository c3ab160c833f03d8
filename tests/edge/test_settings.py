import pytest

from bot.__main__ import main
from bot.core.errors import ConfigurationError
from bot.settings import Settings

APP = "11111111-2222-4333-8444-555555555555"
TENANT = "66666666-7777-4888-9999-000000000000"
GOOD = {"MicrosoftAppId": APP, "MicrosoftAppTenantId": TENANT, "MicrosoftAppType": "UserAssignedMSI",
        "OTPBOT_KEYVAULT_URL": "https://kv.vault.azure.net/", "OTPBOT_DIRECTORY_FILE": "/etc/otpbot/dir.csv",
        "OTPBOT_AGENT_OBJECT_IDS": "00000000-0000-4000-8000-0000000000a1",
        "OTPBOT_ORG_NAME": "Contoso", "OTPBOT_ACS_ENDPOINT": "https://otpbot-sms.unitedstates.communication.azure.com",
        "OTPBOT_SMS_FROM": "+1 800 555 0123"}


def refused(env: dict) -> str:
    with pytest.raises(ConfigurationError) as error:
        Settings.from_env(env)
    return str(error.value)


def test_production_refuses_to_start_without_identity():
    assert refused({}) == (
        "Refusing to start in production mode: MicrosoftAppId, MicrosoftAppTenantId, MicrosoftAppType not set. "
        "Set them (see README, Configuration), or run `otpbot serve --local` for a loopback-only trial.")
    assert refused({**GOOD, "MicrosoftAppTenantId": ""}).startswith(
        "Refusing to start in production mode: MicrosoftAppTenantId not set.")


@pytest.mark.parametrize("app_type", ["MultiTenant", "", "singletenant"])
def test_production_refuses_multi_tenant_or_unknown_types(app_type):
    env = {**GOOD, "MicrosoftAppType": app_type}
    if not app_type:
        assert "MicrosoftAppType not set" in refused(env)
    else:
        assert refused(env) == (f"Refusing to start: MicrosoftAppType is {app_type!r}; it must be SingleTenant or "
                                "UserAssignedMSI (a MultiTenant bot would accept tokens minted for any tenant).")


def test_single_tenant_needs_a_password():
    assert refused({**GOOD, "MicrosoftAppType": "SingleTenant"}) == (
        "Refusing to start: MicrosoftAppType is SingleTenant but MicrosoftAppPassword is not set.")


@pytest.mark.parametrize("change, message", [
    ({"MicrosoftAppId": "not-a-guid"}, "Refusing to start: MicrosoftAppId is not a GUID."),
    ({"OTPBOT_KEYVAULT_URL": "http://kv"}, "Refusing to start: OTPBOT_KEYVAULT_URL must be the vault's https:// URL."),
    ({"OTPBOT_AGENT_OBJECT_IDS": ""},
     "Refusing to start: set OTPBOT_AGENT_GROUP_ID (or OTPBOT_AGENT_OBJECT_IDS); otherwise nobody could use the bot."),
    ({"OTPBOT_PROOFS_STANDARD": "callback,birth_date"},
     "Refusing to start: OTPBOT_PROOFS_STANDARD names birth_date, which a caller can recite; an attacker on the phone "
     "can learn it, so it is not proof. Use callback, phone_code, manager_approval, second_agent_approval."),
    ({"OTPBOT_PROOFS_PRIVILEGED": "callback"},
     "Refusing to start: OTPBOT_PROOFS_PRIVILEGED must name two proofs, one of them an approval by someone other "
     "than the requester (manager_approval or second_agent_approval); otherwise one agent alone could release a "
     "code for a privileged target."),
    ({"OTPBOT_PROOFS_PRIVILEGED": "callback,phone_code"},  # two proofs, but both given by the requester
     "Refusing to start: OTPBOT_PROOFS_PRIVILEGED must name two proofs, one of them an approval by someone other "
     "than the requester (manager_approval or second_agent_approval); otherwise one agent alone could release a "
     "code for a privileged target."),
    ({"OTPBOT_PROOFS_NO_MOBILE": "callback"},  # privileged targets without a mobile use it too
     "Refusing to start: OTPBOT_PROOFS_NO_MOBILE must name two proofs, one of them an approval by someone other "
     "than the requester (manager_approval or second_agent_approval); otherwise one agent alone could release a "
     "code for a privileged target."),
    ({"OTPBOT_PROOFS_NO_MOBILE": "phone_code,second_agent_approval"},
     "Refusing to start: OTPBOT_PROOFS_NO_MOBILE is used when there is no mobile number to text, so it cannot name "
     "phone_code."),
    ({"OTPBOT_ACS_ENDPOINT": ""},
     "Refusing to start: the proof policy texts codes (phone_code) but OTPBOT_ACS_ENDPOINT is not set (see README, "
     "Configuration)."),
    ({"OTPBOT_ACS_ENDPOINT": "https://evil.example.com"},
     "Refusing to start: OTPBOT_ACS_ENDPOINT must be https://<resource>.communication.azure.com."),
    ({"OTPBOT_SMS_FROM": "0800 555 0123"},
     "Refusing to start: OTPBOT_SMS_FROM must be the resource's number in international format, e.g. +18005550123."),
    ({"OTPBOT_ORG_NAME": "Contoso Ünïcode 🙂"},
     "Refusing to start: OTPBOT_ORG_NAME must use GSM-7 characters only (plain Latin letters, digits, common "
     "punctuation)."),
    ({"OTPBOT_ORG_NAME": "C" * 60},
     "Refusing to start: OTPBOT_ORG_NAME is too long: the text would need 177 of the 160 characters of one SMS."),
    ({"OTPBOT_SMS_COUNTRIES": "GB,Narnia"},
     "Refusing to start: OTPBOT_SMS_COUNTRIES holds 'NARNIA'; list ISO country letters (GB, IE) or calling codes "
     "(+44, +353)."),
    ({"OTPBOT_CODE_DELIVERY": "conversation"},
     "Refusing to start: OTPBOT_CODE_DELIVERY=conversation posts codes where everyone in the conversation can read "
     "them; set OTPBOT_ALLOW_CODE_IN_CONVERSATION=true to accept that."),
    ({"OTPBOT_LIMIT_PER_AGENT": "ten"},
     "Refusing to start: OTPBOT_LIMIT_PER_AGENT must look like `10/1h` or `5/30m`, not 'ten'."),
    ({"OTPBOT_TOLERANCE_30S": "abc"},
     "Refusing to start: OTPBOT_TOLERANCE_30S must be a whole number from 0 to 900, not 'abc'."),
])
def test_other_production_checks(change, message):
    assert refused({**GOOD, **change}) == message


def test_good_production_settings():
    settings = Settings.from_env(GOOD)
    assert (settings.local, settings.app_id, settings.tenant_id, settings.app_type) == (
        False, APP, TENANT, "UserAssignedMSI")
    assert "password" not in repr(Settings.from_env({**GOOD, "MicrosoftAppType": "SingleTenant",
                                                      "MicrosoftAppPassword": "password"}))


def test_local_mode_defaults():
    settings = Settings.from_env({}, local=True)
    assert settings.tenant_id == "00000000-0000-4000-8000-0000000000aa"
    assert settings.agent_object_ids == {"00000000-0000-4000-8000-0000000000a1", "00000000-0000-4000-8000-0000000000a2"}
    assert settings.lead_object_ids == {"00000000-0000-4000-8000-0000000000b1"}
    assert settings.allowed_channel_ids == {"19:helpdesk-general@thread.tacv2", "19:helpdesk-codes@thread.tacv2"}


def test_serve_prints_what_is_missing_and_exits_2(capsys, monkeypatch):
    for name in ("MicrosoftAppId", "MicrosoftAppTenantId", "MicrosoftAppType"):
        monkeypatch.delenv(name, raising=False)
    assert main(["serve"]) == 2
    assert "MicrosoftAppId, MicrosoftAppTenantId, MicrosoftAppType not set" in capsys.readouterr().err


def test_local_mode_refuses_a_non_loopback_bind(capsys):
    assert main(["serve", "--local", "--host", "0.0.0.0"]) == 2
    assert capsys.readouterr().err.strip() == "Refusing to start: local mode binds loopback only, not 0.0.0.0."
