"""Build the PEP 3333 environ of a request, the way Django reads it."""

from __future__ import annotations

import ipaddress
import sys
from typing import IO, Any
from urllib.parse import unquote_to_bytes

from hurricane.worker.request import RequestHead
from hurricane.worker.response import FileWrapper
from supervisor.options import networks


class TrustedProxies:
    """Peers whose X-Forwarded-For and X-Forwarded-Proto headers we believe."""

    def __init__(self, spec: str) -> None:
        self.everyone, self.networks = networks(spec)  # validated by the option already

    def __bool__(self) -> bool:
        return self.everyone or bool(self.networks)

    def trusts(self, address: str) -> bool:
        if self.everyone:
            return True
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    def client(self, peer: str, forwarded_for: str) -> str:
        """The client address: the rightmost X-Forwarded-For hop that is not a trusted proxy."""
        address = peer
        for hop in reversed([h.strip() for h in forwarded_for.split(",") if h.strip()]):
            if not self.trusts(address) or not _is_ip(hop):
                break  # a hop that is not an address is made up: stop before it
            address = hop
        return address


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


class EnvironBuilder:
    """What every request of this worker shares; ``build()`` adds the request's part."""

    def __init__(
        self, server_port: int, script_name: str, proxies: TrustedProxies, multiprocess: bool
    ) -> None:
        self.script_name = script_name.rstrip("/")
        self.proxies = proxies
        self.base: dict[str, Any] = {
            "SCRIPT_NAME": self.script_name,
            "SERVER_PORT": str(server_port),
            "wsgi.version": (1, 0),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": multiprocess,
            "wsgi.run_once": False,
            "wsgi.input_terminated": True,
            "wsgi.file_wrapper": FileWrapper,
        }

    def build(self, head: RequestHead, body: IO[bytes], size: int, peer: tuple[str, int]) -> dict[str, Any]:
        path, _, query = target_path(head.target).partition("?")
        environ = self.base.copy()
        environ["REQUEST_METHOD"] = head.method
        environ["PATH_INFO"] = self.path_info(path)
        environ["QUERY_STRING"] = query
        environ["SERVER_PROTOCOL"] = head.version
        environ["REMOTE_ADDR"], environ["REMOTE_PORT"] = peer[0], str(peer[1])
        environ["wsgi.url_scheme"] = "http"
        environ["wsgi.input"] = body
        if size or head.content_length is not None:
            environ["CONTENT_LENGTH"] = str(size)
        add_headers(environ, head.headers)
        environ["SERVER_NAME"] = server_name(environ.get("HTTP_HOST", ""))
        if self.proxies and self.proxies.trusts(peer[0]):
            self.apply_forwarded(environ, peer[0])
        return environ

    def path_info(self, path: str) -> str:
        # PEP 3333: percent-decoded bytes carried in a latin-1 str; Django re-decodes them as UTF-8.
        path_info = unquote_to_bytes(path).decode("latin-1")
        if not path_info.startswith("/"):
            path_info = "/" + path_info
        prefix = self.script_name
        if prefix and (path_info == prefix or path_info.startswith(prefix + "/")):
            path_info = path_info[len(prefix) :] or "/"
        return path_info

    def apply_forwarded(self, environ: dict[str, Any], peer: str) -> None:
        forwarded_for = environ.get("HTTP_X_FORWARDED_FOR")
        if forwarded_for:
            environ["REMOTE_ADDR"] = self.proxies.client(peer, forwarded_for)
        # The last value is the one our proxy set; earlier ones came from the client.
        proto = environ.get("HTTP_X_FORWARDED_PROTO", "").split(",")[-1].strip().lower()
        if proto in ("http", "https"):
            environ["wsgi.url_scheme"] = proto


def target_path(target: str) -> str:
    """The path and query of a request target, also in absolute form (``http://host/path``)."""
    if target.startswith("/"):
        return target
    if "://" in target:
        rest = target.split("://", 1)[1]
        slash = rest.find("/")
        return rest[slash:] if slash >= 0 else "/"
    return "/" if target == "*" else target


def add_headers(environ: dict[str, Any], headers: list[tuple[str, str]]) -> None:
    for name, value in headers:
        if "_" in name:
            continue  # X_Forwarded_For must not pose as X-Forwarded-For (Django does the same)
        key = name.upper().replace("-", "_")
        if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if key == "CONTENT_TYPE":
                environ[key] = value
            continue
        key = "HTTP_" + key
        if key in environ:
            environ[key] += ("; " if key == "HTTP_COOKIE" else ",") + value
        else:
            environ[key] = value


def server_name(host: str) -> str:
    if host.startswith("["):
        return host[: host.find("]") + 1] or "localhost"
    return host.rsplit(":", 1)[0] if host else "localhost"
