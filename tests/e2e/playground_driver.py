"""Headless driver for the Microsoft 365 Agents Playground (npm @microsoft/m365agentsplayground 0.2.28).

The Playground is a Node server: it plays Teams towards the bot (POSTs activities to the bot endpoint and serves a
mock Bot Connector under ``/_connector``) and serves a web UI that talks to it over HTTP and two websockets. This
module speaks that same UI API, so a test can run a whole conversation without a browser. See docs/playground.md.

    pg = await start_playground(port=0, bot_endpoint="http://127.0.0.1:3978/api/messages", log_file=tmp / "pg.log")
    async with PlaygroundClient(pg.base_url) as chat:
        await chat.send_message("hello")                      # personal chat, as the config's currentUser
        reply = await chat.next_bot_message()                  # what the UI shows (reply.text, reply.card)
        result = await chat.invoke_action(reply, "approve", {"note": "ok"}, user="ben@contoso.example")
    await pg.stop()

Three inboxes are filled in the background: ``next_bot_message`` (the UI's conversation stream), ``next_bot_activity``
(every activity the bot POSTed to the connector, in full, any conversation) and ``next_request_to_bot`` (every
activity the Playground POSTed to the bot, with the bot's HTTP answer).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import os
import signal
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp

REPO_ROOT = Path(__file__).resolve().parents[2]
PLAYGROUND_CLI = REPO_ROOT / "node_modules" / "@microsoft" / "m365agentsplayground" / "cli.js"
ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"
_BOT_APP, _PLAYGROUND = "User Application", "Microsoft 365 Agents Playground"  # log-stream direction labels
_PROXY_VARS = {"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "no_proxy",
               "all_proxy"}


class PlaygroundError(RuntimeError):
    """The Playground did not start, refused a request, or nothing arrived in time."""


# --------------------------------------------------------------------------------------------------- process
@dataclass
class PlaygroundProcess:
    process: asyncio.subprocess.Process
    port: int
    log_file: Path
    output: list[str] = field(default_factory=list)  # its stdout/stderr (normally just "Listening on <port>")
    _drain: asyncio.Task | None = field(default=None, repr=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_text(self) -> str:
        """The Playground's own log (all of its console output goes there when stdout is not a terminal)."""
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    async def stop(self, timeout: float = 5.0) -> int:
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), timeout)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        if self._drain:
            await asyncio.gather(self._drain, return_exceptions=True)
        return self.process.returncode


async def start_playground(*, port: int, bot_endpoint: str, log_file: Path, config_path: Path | None = None,
                           cwd: Path = REPO_ROOT, channel_id: str = "msteams", service_url: str | None = None,
                           node: str = "node", timeout: float = 30.0, extra_env: dict[str, str] | None = None,
                           ) -> PlaygroundProcess:
    """Start ``agentsplayground`` and wait until ``/_debug/ping`` answers. ``port=0`` lets it pick a free port.

    ``config_path`` defaults to ``cwd/.m365agentsplayground.yml``. A missing file would silently give the built-in
    mock tenant, so it must exist. If the Playground exits (a bad config does, with the reason only in its log),
    the log is put in the error.
    """
    config = Path(config_path) if config_path else Path(cwd) / ".m365agentsplayground.yml"
    if not config.is_file():
        raise PlaygroundError(f"Playground config not found: {config}")
    if not PLAYGROUND_CLI.is_file():
        raise PlaygroundError(f"{PLAYGROUND_CLI} missing: run `npm ci` in {REPO_ROOT}")
    log_file = Path(log_file)
    env = {k: v for k, v in os.environ.items() if k not in _PROXY_VARS}  # it would proxy the bot endpoint
    env.update({"M365_AGENTS_PLAYGROUND_CONFIG_PATH": str(config.resolve()),
                "M365_AGENTS_PLAYGROUND_LOGFILE": str(log_file.resolve()),
                "TEAMSAPPTESTER_BROWSER": "none"})
    env.update(extra_env or {})
    args = [node, str(PLAYGROUND_CLI), "start", "-e", bot_endpoint, "-c", channel_id, "-p", str(port),
            "--disable-telemetry"]
    if service_url:
        args += ["--service-url", service_url]
    proc = await asyncio.create_subprocess_exec(*args, cwd=str(cwd), env=env, stdin=asyncio.subprocess.DEVNULL,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
                                                start_new_session=True)
    pg = PlaygroundProcess(proc, port, log_file)
    pg._drain = asyncio.create_task(_read_output(pg))
    try:
        pg.port = await _wait_listening(pg, timeout)
        if port and pg.port != port:
            raise PlaygroundError(f"port {port} is taken (another Playground?); it moved to {pg.port}")
        await _wait_ping(pg, timeout)
    except BaseException:
        await pg.stop()
        raise
    return pg


async def _read_output(pg: PlaygroundProcess) -> None:
    while line := await pg.process.stdout.readline():
        pg.output.append(line.decode(errors="replace").rstrip())


async def _wait_listening(pg: PlaygroundProcess, timeout: float) -> int:
    # With stdout not a TTY the Playground prints one line, "Listening on <port>"; the rest goes to its log.
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        for line in pg.output:
            if line.startswith("Listening on "):
                return int(line.rsplit(" ", 1)[1])
        if pg._drain.done() or asyncio.get_running_loop().time() > deadline:
            await asyncio.sleep(0.1)  # let it exit and write its log
            raise PlaygroundError(f"Playground did not start (exit code {pg.process.returncode}); "
                                  f"output {pg.output}\n{pg.log_text()}")
        await asyncio.sleep(0.02)


async def _wait_ping(pg: PlaygroundProcess, timeout: float) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    async with aiohttp.ClientSession() as session:
        while True:
            if pg.process.returncode is not None:  # config errors exit right after "Listening on"
                raise PlaygroundError(f"Playground exited ({pg.process.returncode})\n{pg.log_text()}")
            with contextlib.suppress(aiohttp.ClientError):
                # /_debug is mounted only once the config has loaded: "pong" means the mock tenant is up.
                async with session.get(pg.base_url + "/_debug/ping") as r:
                    if r.status == 200 and await r.text() == "pong":
                        return
            if asyncio.get_running_loop().time() > deadline:
                raise PlaygroundError(f"Playground not ready in {timeout}s\n{pg.log_text()}")
            await asyncio.sleep(0.05)


# --------------------------------------------------------------------------------------------------- client
@dataclass
class BotMessage:
    """One message as the UI receives it (text and each attachment arrive as separate messages)."""
    conversation_id: str  # the chat, or the channel thread ("<channel>;messageid=<root>")
    message_id: str
    text: str | None
    attachments: list[dict]
    action: str  # "createMessage" or "updateMessage"
    raw: dict = field(repr=False)

    @property
    def card(self) -> dict | None:
        for a in self.attachments:
            if a.get("contentType") == ADAPTIVE_CARD:
                return a["content"]
        return None


@dataclass
class Exchange:
    """One HTTP call seen on the Playground's log stream: an activity and the answer to it."""
    activity: dict
    status: int | None
    response: Any
    name: str  # activity type, or the connector operation ("createConversation", "GetConversationMember", ...)

    @property
    def message_id(self) -> str | None:  # id the Playground gave a message the bot sent (201 answers only)
        return self.response.get("id") if isinstance(self.response, dict) else None


@dataclass
class InvokeResult:
    status: int  # HTTP status of POST /_conversation/v1/invoke (502 when the bot failed)
    body: Any    # {"type", "value"} on success (the bot's statusCode is dropped), else {"code", "message", ...}

    @property
    def type(self) -> str | None:
        return self.body.get("type") if isinstance(self.body, dict) else None

    @property
    def value(self) -> Any:
        return self.body.get("value") if isinstance(self.body, dict) else None

    @property
    def card(self) -> dict | None:
        return self.value if self.type == ADAPTIVE_CARD else None


@dataclass
class SentMessage:
    conversation_id: str  # for a new channel post: its thread id, where the bot's replies land
    message_id: str | None
    activity_id: str | None = None  # set when sent as a custom activity (a user other than currentUser)


class _Inbox:
    def __init__(self) -> None:
        self._items: list[Any] = []
        self._changed = asyncio.Condition()

    async def put(self, item: Any) -> None:
        async with self._changed:
            self._items.append(item)
            self._changed.notify_all()

    async def take(self, predicate: Callable[[Any], bool], timeout: float, what: str) -> Any:
        async def first() -> Any:
            async with self._changed:
                while True:
                    for i, item in enumerate(self._items):
                        if predicate(item):
                            return self._items.pop(i)
                    await self._changed.wait()
        try:
            return await asyncio.wait_for(first(), timeout)
        except TimeoutError:
            raise PlaygroundError(f"no {what} within {timeout}s; pending: {self._items!r:.2000}") from None

    def drain(self) -> list[Any]:
        items, self._items = self._items, []
        return items


class PlaygroundClient:
    """Plays the web UI: sends messages and Action.Execute clicks, and collects what the bot sends back."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.messages, self.bot_activities, self.requests_to_bot = _Inbox(), _Inbox(), _Inbox()
        self.config: dict = {}
        self._session: aiohttp.ClientSession | None = None
        self._tasks: list[asyncio.Task] = []
        self._personal_chats: dict[str, str] = {}
        self.stream_errors: list[str] = []  # websocket events this driver could not parse

    async def __aenter__(self) -> PlaygroundClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def connect(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        self.config = await self._request("GET", "/_internal/v1/testConfig")
        for path, handler in (("/_ws_conversation/v1/conversations/stream", self._on_conversation_event),
                              ("/_ws/log/stream", self._on_log_event)):
            ws = await self._session.ws_connect(self.base_url + path)
            self._tasks.append(asyncio.create_task(self._read(ws, handler)))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session:
            await self._session.close()

    # ---- mock tenant
    @property
    def bot(self) -> dict:
        return self.config["config"]["bot"]

    @property
    def current_user(self) -> dict:
        return self.config["config"]["currentUser"]

    def user(self, who: str | None = None) -> dict:
        """A mock user by id, aadObjectId, e-mail, UPN, display or given name (None: currentUser)."""
        people = [self.current_user, *self.config["config"]["users"]]
        if who is None:
            return self.current_user
        for p in people:
            if who.lower() in {p["id"].lower(), p["aadObjectId"].lower(), p["email"].lower(),
                               p["userPrincipleName"].lower(), p["name"].lower(), p["givenName"].lower()}:
                return p
        raise PlaygroundError(f"no mock user {who!r}")

    def conversation_id(self, conversation: str = "personal", channel: str | None = None) -> str:
        """'personal' | 'group' | 'channel' (General, or the channel named ``channel``) | a literal id."""
        cfg = self.config["config"]
        if conversation == "personal":
            return cfg["personalChat"]["id"]
        if conversation == "group":
            return cfg["groupChats"][0]["id"]
        if conversation == "channel":
            channels = cfg["teams"][0]["channels"]
            name = channel or "General"
            for c in channels:
                if c["name"].lower() == name.lower() or c["id"] == name:
                    return c["id"]
            raise PlaygroundError(f"no channel {name!r} in {[c['name'] for c in channels]}")
        return conversation

    # ---- sending
    async def send_message(self, text: str, *, user: str | None = None, conversation: str = "personal",
                           channel: str | None = None, thread: str | None = None,
                           mention_bot: bool | None = None) -> SentMessage:
        """Send ``text`` as ``user`` into a personal chat, the group chat, a channel (new post) or a ``thread``.

        Outside personal chats the bot only hears @mentions, so ``<at>Bot</at> `` is prefixed unless
        ``mention_bot=False`` or the text already has it. The UI always sends as currentUser; another user's
        message goes in as a custom activity (see docs/playground.md for what that changes).
        """
        person = self.user(user)
        conv_id = thread or self.conversation_id(conversation, channel)
        personal = conversation == "personal" and thread is None
        at = f"<at>{self.bot['name']}</at>"
        if mention_bot is None:
            mention_bot = not personal
        if mention_bot and at not in text:
            text = f"{at} {text}"
        mentions = [{"mentioned": {"id": self.bot["id"], "name": self.bot["name"]}, "text": at}] if mention_bot else []
        if person["id"] == self.current_user["id"]:
            body: dict[str, Any] = {"from": {"id": person["id"]}, "text": text, "textFormat": "plain"}
            if mentions:
                body["mentions"] = mentions
            res = await self._request("POST", f"/_conversation/v1/conversations/{_q(conv_id)}/messages", body)
            return SentMessage(res.get("postConversationId") or conv_id, res.get("messageId"))
        if personal:
            conv_id = await self._personal_chat_of(person)
        elif conversation == "channel" and thread is None:
            # A new post needs a thread to exist; open one as currentUser (not sent to the bot), then speak in it.
            root = await self._request("POST", f"/_conversation/v1/conversations/{_q(conv_id)}/messages",
                                       {"from": {"id": self.current_user["id"]}, "text": text, "textFormat": "plain"})
            conv_id = root["postConversationId"]
        activity = await self._message_activity(conv_id, person, text, mentions)
        await self._request("POST", "/_internal/v1/customActivities", activity)
        return SentMessage(conv_id, None, activity["id"])

    async def invoke_action(self, message: BotMessage | Exchange, verb: str, data: dict | None = None, *,
                            user: str | None = None, conversation_id: str | None = None) -> InvokeResult:
        """Click the card's ``Action.Execute`` with ``verb`` as ``user``; ``data`` are the input values.

        Sends what the UI sends (``adaptiveCard/action`` with value ``{"action": {type, title, verb, data}}``).
        In personal chats only currentUser may click; in channels and the group chat any mock user may.
        """
        if isinstance(message, Exchange):
            conv, msg_id, card = message.activity["conversation"]["id"], message.message_id, _card_of(message.activity)
        else:
            conv, msg_id, card = message.conversation_id, message.message_id, message.card
        if card is None or msg_id is None:
            raise PlaygroundError("that message has no Adaptive Card (or no id) to act on")
        action = _find_execute_action(card, verb)
        if action is None:
            raise PlaygroundError(f"the card has no Action.Execute with verb {verb!r}")
        payload = {"name": "adaptiveCard/action", "from": {"id": self.user(user)["id"]},
                   "conversation": {"id": conversation_id or conv}, "replyToId": msg_id,
                   "value": {"action": {"type": "Action.Execute", "title": action.get("title"), "verb": verb,
                                        "data": {**(action.get("data") or {}), **(data or {})}}}}
        async with self._session.post(self.base_url + "/_conversation/v1/invoke", json=payload) as r:
            result = InvokeResult(r.status, await _json_or_text(r))
        if result.card is not None and isinstance(message, BotMessage):
            # The Playground stores the returned card in place of the clicked one, as the UI shows it.
            message.attachments = [{"contentType": ADAPTIVE_CARD, "content": result.card}]
        return result

    async def install(self, conversation: str = "personal", channel: str | None = None) -> None:
        """What opening a chat in the UI does: the bot gets installationUpdate + conversationUpdate (membersAdded)."""
        await self._request("POST", f"/_debug/conversation/{_q(self.conversation_id(conversation, channel))}"
                                    "/installation", {})

    # ---- receiving
    async def next_bot_message(self, timeout: float = 10.0, *, conversation_id: str | None = None) -> BotMessage:
        return await self.messages.take(
            lambda m: conversation_id in (None, m.conversation_id), timeout, "bot message")

    async def collect_bot_messages(self, count: int, timeout: float = 10.0) -> list[BotMessage]:
        return [await self.next_bot_message(timeout) for _ in range(count)]

    async def next_bot_activity(self, timeout: float = 10.0, *, types: tuple[str, ...] = ("message",)) -> Exchange:
        """The next activity the bot sent to the connector (full JSON as posted, any conversation)."""
        return await self.bot_activities.take(lambda e: e.activity.get("type") in types, timeout, "bot activity")

    async def next_request_to_bot(self, timeout: float = 10.0, *, types: tuple[str, ...] = ("message", "invoke"),
                                  ) -> Exchange:
        """The next activity the Playground POSTed to the bot, with the bot's HTTP status and body."""
        return await self.requests_to_bot.take(lambda e: e.activity.get("type") in types, timeout, "request to bot")

    # ---- internals
    async def _read(self, ws: aiohttp.ClientWebSocketResponse, handler) -> None:
        async for frame in ws:
            if frame.type == aiohttp.WSMsgType.TEXT:
                try:
                    await handler(frame.json())
                except Exception as exc:  # an event shape we do not know: keep reading, keep the evidence
                    self.stream_errors.append(f"{exc!r} in {frame.data[:500]}")

    async def _on_conversation_event(self, event: dict) -> None:
        if event.get("action") not in ("createMessage", "updateMessage"):
            return  # "typing"
        m = event["message"]
        await self.messages.put(BotMessage(m.get("postConversationId") or event["actionConversationId"],
                                           m["messageId"], m.get("text"), m.get("attachments") or [],
                                           event["action"], event))

    async def _on_log_event(self, event: dict) -> None:
        log = event.get("log") or {}
        if log.get("type") != "bot":
            return  # text notes ("connecting to app", warnings)
        x = Exchange(log["request"].get("body") or {}, log["response"].get("statusCode"),
                     log["response"].get("body"), log.get("activityName", ""))
        if log.get("from") == _BOT_APP and log.get("to") == _PLAYGROUND:
            await self.bot_activities.put(x)
        elif log.get("from") == _PLAYGROUND and log.get("to") == _BOT_APP:
            await self.requests_to_bot.put(x)

    async def _request(self, method: str, path: str, body: Any = None, params: dict | None = None) -> Any:
        async with self._session.request(method, self.base_url + path, json=body, params=params) as r:
            data = await _json_or_text(r)
            if r.status >= 300:
                raise PlaygroundError(f"{method} {path} -> {r.status} {data}")
            return data

    async def _personal_chat_of(self, person: dict) -> str:
        # Only currentUser has a personal chat; others get one the way a bot makes one (POST /v3/conversations).
        if person["id"] not in self._personal_chats:
            res = await self._request("POST", "/_connector/v3/conversations",
                                      {"isGroup": False, "members": [{"id": person["id"]}],
                                       "bot": {"id": self.bot["id"]}, "tenantId": self.config["config"]["tenantId"]})
            self._personal_chats[person["id"]] = res["id"]
        return self._personal_chats[person["id"]]

    async def _message_activity(self, conv_id: str, person: dict, text: str, mentions: list[dict]) -> dict:
        """The activity the Playground itself would send for ``person`` (same shape as its message generator)."""
        act = await self._request("GET", "/_internal/v1/customActivities/template", params={"conversationId": conv_id})
        cfg, conv = self.config, act["conversation"]
        tz = cfg["internalConfig"]["localTimezone"]
        now = datetime.now(UTC)
        act.update({"type": "message", "id": str(uuid.uuid4()), "text": text, "textFormat": "plain",
                    "timestamp": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                    "localTimestamp": now.isoformat(timespec="milliseconds"), "localTimezone": tz, "locale": "en-US",
                    "from": {"id": person["id"], "name": person["name"], "aadObjectId": person["aadObjectId"]}})
        in_channel = conv.get("conversationType") == "channel"
        channel_id, team_id = conv["id"].split(";")[0], cfg["config"]["teams"][0]["id"]
        act["channelData"] = {"tenant": {"id": cfg["config"]["tenantId"]}}
        if in_channel:
            act["channelData"].update({"teamsChannelId": channel_id, "teamsTeamId": team_id,
                                       "team": {"id": team_id}, "channel": {"id": channel_id}})
        client_info = {"type": "clientInfo", "locale": "en-US", "country": "US", "timezone": tz}
        if not in_channel:
            client_info["platform"] = "Web"
        act["entities"] = [{"type": "mention", **copy.deepcopy(m)} for m in mentions] + [client_info]
        return act


def _q(conversation_id: str) -> str:
    return quote(conversation_id, safe="")


async def _json_or_text(r: aiohttp.ClientResponse) -> Any:
    text = await r.text()
    if not text:
        return None
    try:
        return await r.json(content_type=None)
    except ValueError:
        return text


def _card_of(activity: dict) -> dict | None:
    for a in activity.get("attachments") or []:
        if a.get("contentType") == ADAPTIVE_CARD:
            return a.get("content")
    return None


def _find_execute_action(node: Any, verb: str) -> dict | None:
    """Depth-first search of a card (actions, ActionSets, ShowCard sub-cards) for Action.Execute ``verb``."""
    if isinstance(node, dict):
        if node.get("type") == "Action.Execute" and node.get("verb") == verb:
            return node
        children = node.values()
    elif isinstance(node, list):
        children = node
    else:
        return None
    for child in children:
        found = _find_execute_action(child, verb)
        if found is not None:
            return found
    return None
