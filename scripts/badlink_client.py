#!/usr/bin/env python3
"""A client for badlink's control API (badlink run --api), standard library only.

    from badlink_client import Badlink

    link = Badlink()                        # the local instance (/run/badlink)
    with link.outbound(delay="500ms", loss="2%"):
        run_my_test()                       # restored on exit, also on exceptions

Badlink("unix:/run/badlink/1234.sock"), Badlink("127.0.0.1:8080", token="...") and
Badlink("http://[::1]:8080") name an instance. Errors raise BadlinkError with the API's
status, message and, where there is one, line and column.
"""

import contextlib
import glob
import http.client
import json
import os
import socket
import urllib.parse

SOCKET_DIRECTORY = "/run/badlink"
SHARED_SOCKET = SOCKET_DIRECTORY + "/badlink.sock"


class BadlinkError(Exception):
    """A request the API refused: status (400, 404, ...), message, line and column."""

    def __init__(self, status, message, line=None, column=None):
        where = f" (line {line}, column {column})" if line else ""
        super().__init__(f"{status}: {message}{where}")
        self.status = status
        self.message = message
        self.line = line
        self.column = column


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("badlink", timeout=timeout)
        self._path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._path)


def _local_socket():
    if os.path.exists(SHARED_SOCKET):
        return SHARED_SOCKET
    sockets = glob.glob(SOCKET_DIRECTORY + "/*.sock")
    if len(sockets) == 1:
        return sockets[0]
    raise BadlinkError(0, f"{len(sockets)} badlink instances in {SOCKET_DIRECTORY}; "
                          "pass Badlink('unix:PATH')")


class Badlink:
    """One running badlink. `api`: unix:PATH, HOST:PORT, [V6]:PORT or http://...; default:
    the only instance on this host."""

    def __init__(self, api=None, token=None, timeout=60.0):
        self.token = token
        self.timeout = timeout
        if api is None:
            api = "unix:" + _local_socket()
        if api.startswith("unix:"):
            path = api[len("unix:"):]
            self._connect = lambda: _UnixConnection(path, self.timeout)
        else:
            if "://" not in api:
                api = "http://" + api
            url = urllib.parse.urlsplit(api)
            self._connect = lambda: http.client.HTTPConnection(
                url.hostname, url.port or 80, timeout=self.timeout)

    def request(self, method, path, body=None, content_type="application/json",
                accept="application/json"):
        """One request; the decoded JSON (or text) of a 2xx answer, else BadlinkError."""
        headers = {"Accept": accept}
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            if isinstance(data, str):
                data = data.encode()
            headers["Content-Type"] = content_type
        connection = self._connect()
        try:
            connection.request(method, path, body=data, headers=headers)
            response = connection.getresponse()
            text = response.read().decode()
            kind = response.getheader("Content-Type", "")
        finally:
            connection.close()
        if response.status >= 300:
            try:
                error = json.loads(text)
                raise BadlinkError(response.status, error.get("error", text), error.get("line"),
                                   error.get("column"))
            except json.JSONDecodeError:
                raise BadlinkError(response.status, text) from None
        return json.loads(text) if kind.startswith("application/json") else text

    # -- what the API offers ------------------------------------------------------------------
    def health(self):
        return self.request("GET", "/healthz")

    def profile(self):
        return self.request("GET", "/v1/profile")

    def load(self, toml_text):
        """A whole profile (TOML text, or a dict as JSON), all or nothing."""
        if isinstance(toml_text, dict):
            return self.request("PUT", "/v1/profile", toml_text)
        return self.request("PUT", "/v1/profile", toml_text, content_type="application/toml")

    def links(self):
        return self.request("GET", "/v1/links")

    def _link_name(self, link):
        if link is not None:
            return link
        links = self.links()
        if len(links) != 1:
            raise BadlinkError(0, f"the profile has {len(links)} links; pass link=NAME")
        return links[0]["name"]

    def set(self, direction, link=None, **keys):
        """Sets direction keys (delay="80ms", loss="5%"); None goes back to the profile's."""
        return self.request("PATCH", f"/v1/links/{self._link_name(link)}/{direction}", keys)

    def set_link(self, link=None, outbound=None, inbound=None):
        """Sets keys of both directions in one change: outbound={"delay": "80ms"},
        inbound={"rate": "1mbit"}; a value None goes back to the profile's."""
        body = {}
        if outbound is not None:
            body["outbound"] = outbound
        if inbound is not None:
            body["inbound"] = inbound
        return self.request("PATCH", f"/v1/links/{self._link_name(link)}", body)

    def reset(self):
        return self.request("POST", "/v1/reset")

    def stats(self):
        return self.request("GET", "/v1/stats")

    def metrics(self):
        return self.request("GET", "/metrics", accept="text/plain")

    def timeline(self):
        """The schedules' timeline: started_unix_ns, paused, elapsed_ns, each link's step."""
        return self.request("GET", "/v1/timeline")

    def restart_timeline(self):
        """The timeline from 0 now, every link back to its first phase; the timeline after."""
        return self.request("POST", "/v1/timeline/restart")

    def pause_timeline(self):
        """No step until resume_timeline(); BadlinkError 409 when paused already."""
        return self.request("POST", "/v1/timeline/pause")

    def resume_timeline(self):
        """On from where it paused; BadlinkError 409 when it is not paused."""
        return self.request("POST", "/v1/timeline/resume")

    # -- Toxiproxy-style: changed inside the block, restored after --------------------------
    @contextlib.contextmanager
    def direction(self, direction, link=None, **keys):
        name = self._link_name(link)
        self.set(direction, link=name, **keys)
        try:
            yield self
        finally:
            # Back to the profile's value of each key set here (PATCH null).
            self.set(direction, link=name, **{k: None for k in keys})

    def outbound(self, link=None, **keys):
        return self.direction("outbound", link=link, **keys)

    def inbound(self, link=None, **keys):
        return self.direction("inbound", link=link, **keys)


if __name__ == "__main__":
    import sys

    print(json.dumps(Badlink(sys.argv[1] if len(sys.argv) > 1 else None).profile(), indent=2))
