"""The chat room's page: open it in two browser tabs and talk to yourself."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse

PAGE = """<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>Hurricane chat</title>
<style>
  body { font: 16px system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; }
  #log { border: 1px solid #ccc; height: 20rem; overflow-y: auto; padding: .5rem; }
  #log p { margin: .2rem 0; } form { display: flex; gap: .5rem; margin-top: .5rem; }
  input[name=text] { flex: 1; }
</style>
<h1>Hurricane chat</h1>
<p id="status">connecting…</p>
<div id="log"></div>
<form><input name="text" autocomplete="off" placeholder="Say something" autofocus><button>Send</button></form>
<script>
  const name = "guest-" + Math.floor(Math.random() * 1000);
  const log = document.getElementById("log"), status = document.getElementById("status");
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/ws/chat`);
  socket.onopen = () => { status.textContent = `connected as ${name}`; };
  socket.onclose = (event) => { status.textContent = `disconnected (${event.code})`; };
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data), line = document.createElement("p");
    line.textContent = `${message.name}: ${message.text}`;
    log.append(line); log.scrollTop = log.scrollHeight;
  };
  document.querySelector("form").onsubmit = (event) => {
    event.preventDefault();
    const input = event.target.elements.text;
    socket.send(JSON.stringify({name, text: input.value}));
    input.value = "";
  };
</script>
"""

MISSING = """Hurricane chat needs WebSockets: pip install 'hurricane-server[websockets]' channels,
then restart serve.
"""


def room(request: HttpRequest) -> HttpResponse:
    if not getattr(settings, "ASGI_APPLICATION", None):
        return HttpResponse(MISSING, content_type="text/plain", status=501)
    return HttpResponse(PAGE)
