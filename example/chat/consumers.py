"""The chat room's WebSocket end: every message goes to everyone in the room."""

from channels.generic.websocket import AsyncJsonWebsocketConsumer

ROOM = "lobby"


class ChatConsumer(AsyncJsonWebsocketConsumer):
    groups = [ROOM]  # joined on connect, left on disconnect

    async def receive_json(self, content, **kwargs):
        name = str(content.get("name", "someone"))[:40]
        text = str(content.get("text", ""))[:1000]
        if text:
            await self.channel_layer.group_send(ROOM, {"type": "chat.message", "name": name, "text": text})

    async def chat_message(self, event):
        await self.send_json({"name": event["name"], "text": event["text"]})
