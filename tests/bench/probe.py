"""The limit probe: a raw aiohttp handler that parses the activity and makes the same outbound POST a bot
reply makes (to the connector's reply URL, with a bearer token and a small message activity), on one shared
ClientSession. No botbuilder, no JWT validation, no state: the ceiling of this process model.

    BENCH_PORT=... python -m tests.bench.probe
"""

import json
import os

import aiohttp
from aiohttp import web

TOKEN = "Bearer bench-outbound-token"
SESSION = web.AppKey("session", aiohttp.ClientSession)


async def messages(request: web.Request) -> web.Response:
    activity = await request.json()
    reply = {"type": "message", "text": f"Echo: {activity.get('text', '')}", "replyToId": activity["id"],
             "conversation": activity["conversation"], "from": activity["recipient"],
             "recipient": activity["from"], "channelId": activity["channelId"], "serviceUrl": activity["serviceUrl"]}
    url = (f"{activity['serviceUrl'].rstrip('/')}/v3/conversations/{activity['conversation']['id']}"
           f"/activities/{activity['id']}")
    async with request.app[SESSION].post(url, data=json.dumps(reply), headers={
            "Authorization": TOKEN, "Content-Type": "application/json; charset=utf-8"}) as response:
        await response.read()
        if response.status >= 300:
            return web.Response(status=502)
    return web.Response(status=200)


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def session_ctx(app: web.Application):
    app[SESSION] = aiohttp.ClientSession()
    yield
    await app[SESSION].close()


def main() -> None:
    app = web.Application()
    app.router.add_post("/api/messages", messages)
    app.router.add_get("/healthz", healthz)
    app.cleanup_ctx.append(session_ctx)
    web.run_app(app, host="127.0.0.1", port=int(os.environ["BENCH_PORT"]), print=None, access_log=None)


if __name__ == "__main__":
    main()
