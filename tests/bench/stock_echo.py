"""Baseline: the stock botbuilder echo bot, as Microsoft's Python samples build it (02.echo-bot/app.py):
`CloudAdapter(ConfigurationBotFrameworkAuthentication(CONFIG))`, an ActivityHandler that echoes, and
`ADAPTER.process(req, BOT)` behind aiohttp. Import-time globals, as in the sample.

Authentication is ON: the app id is set, and the SDK's channel OpenID metadata URL (the
`AuthenticationConstants.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL` constant, which ChannelValidation reads on
each call) points at the bench's local OpenID server, so tokens are validated for real against the bench's
test key. (Setting the configuration attribute of that name instead would switch the SDK to its
"parameterized" authentication, which then rejects every channel token: not the sample's path.) The
outbound token is stubbed as for the bot.

    BENCH_PORT=... BENCH_APP_ID=... BENCH_METADATA_URL=... python -m tests.bench.stock_echo
"""

import os
import sys

from aiohttp import web
from aiohttp.web import Request, Response
from botbuilder.core import ActivityHandler, MessageFactory, TurnContext
from botbuilder.core.integration import aiohttp_error_middleware
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
from botframework.connector.auth import AuthenticationConstants, MicrosoftAppCredentials

from tests.bench.bot_process import OUTBOUND_TOKEN

AuthenticationConstants.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL = os.environ["BENCH_METADATA_URL"]
MicrosoftAppCredentials.get_access_token = lambda self, force_refresh=False: OUTBOUND_TOKEN


class DefaultConfig:
    PORT = int(os.environ["BENCH_PORT"])
    APP_ID = os.environ["BENCH_APP_ID"]
    APP_PASSWORD = "unused: the outbound token is stubbed"
    APP_TYPE = "MultiTenant"
    APP_TENANTID = ""


class EchoBot(ActivityHandler):
    async def on_message_activity(self, turn_context: TurnContext):
        return await turn_context.send_activity(MessageFactory.text(f"Echo: {turn_context.activity.text}"))


CONFIG = DefaultConfig()
ADAPTER = CloudAdapter(ConfigurationBotFrameworkAuthentication(CONFIG))


async def on_error(context: TurnContext, error: Exception):
    print(f"\n [on_turn_error] unhandled error: {error}", file=sys.stderr)


ADAPTER.on_turn_error = on_error
BOT = EchoBot()


async def messages(req: Request) -> Response:
    return await ADAPTER.process(req, BOT)


async def healthz(req: Request) -> Response:
    return web.json_response({"status": "ok"})


APP = web.Application(middlewares=[aiohttp_error_middleware])
APP.router.add_post("/api/messages", messages)
APP.router.add_get("/healthz", healthz)

if __name__ == "__main__":
    web.run_app(APP, host="127.0.0.1", port=CONFIG.PORT, print=None, access_log=None)
