"""Channels consumers (and raw ASGI apps) for the WebSocket tests."""

import asyncio
import json
import os

from channels.generic.websocket import AsyncWebsocketConsumer
from notes.models import Note


class Echo(AsyncWebsocketConsumer):
    """Echoes every message; picks chat.v2 when offered; says which worker it is on."""

    async def connect(self):
        chosen = "chat.v2" if "chat.v2" in self.scope["subprotocols"] else None
        await self.accept(subprotocol=chosen, headers=[(b"x-worker-pid", str(os.getpid()).encode())])

    async def receive(self, text_data=None, bytes_data=None):
        if text_data == "whoami":
            await self.send(text_data=json.dumps({"pid": os.getpid(), "state": self.scope.get("state", {})}))
        elif text_data == "count-notes":
            await self.send(text_data=str(await Note.objects.acount()))
        elif text_data is not None:
            await self.send(text_data=text_data)
        else:
            await self.send(bytes_data=bytes_data)


class Deny(AsyncWebsocketConsumer):
    async def connect(self):
        await self.close()  # before accepting: the client gets 403


class Broken(AsyncWebsocketConsumer):
    async def connect(self):
        raise RuntimeError("this consumer cannot connect")


class Flood(AsyncWebsocketConsumer):
    """Sends 64 KiB messages for as long as it may, to a client that may never read them."""

    async def connect(self):
        await self.accept()
        self.task = asyncio.ensure_future(self.flood())

    async def flood(self):
        block = b"x" * 65536
        sent = 0
        while True:
            await self.send(bytes_data=block)
            sent += 1
            with open(os.environ["FLOOD_COUNT"], "w") as count:
                count.write(str(sent))

    async def disconnect(self, code):
        self.task.cancel()


class Chat(AsyncWebsocketConsumer):
    """A room: every message goes to everyone in it, through the channel layer."""

    groups = ["room"]

    async def connect(self):
        await self.accept(headers=[(b"x-worker-pid", str(os.getpid()).encode())])

    async def receive(self, text_data=None, bytes_data=None):
        await self.channel_layer.group_send(
            "room", {"type": "chat.message", "text": text_data, "pid": os.getpid()}
        )

    async def chat_message(self, event):
        await self.send(
            text_data=json.dumps({"text": event["text"], "from_pid": event["pid"], "pid": os.getpid()})
        )


async def deny_with_body(scope, receive, send):
    """Refuses the handshake with an HTTP response of its own (the websocket.http.response extension)."""
    assert (await receive())["type"] == "websocket.connect"
    await send(
        {"type": "websocket.http.response.start", "status": 401, "headers": [(b"www-authenticate", b"Token")]}
    )
    await send({"type": "websocket.http.response.body", "body": b"token required\n"})
