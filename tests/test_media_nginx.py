"""docs/deploy.md's nginx locations for /feeds/ and /media/, run by Debian's real nginx on
loopback against a public_dir that Dispatch wrote: the files come out, with the
documented caching, and nothing else in the folder does."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from dispatch.config import Settings
from dispatch.media.store import MediaStore
from dispatch.publish import publish_feeds
from dispatch.render.feeds import build_feeds
from dispatch.store.database import Database
from support.campaigns import add_article
from support.images import chart_png
from support.live_server import free_port
from support.serve import dispatch_serve

NGINX = "/usr/sbin/nginx"
DEPLOY = Path(__file__).parent.parent / "docs" / "deploy.md"
LOCATION = re.compile(r'^    location ~ "\^/(feeds|media)/.*?^    \}$', re.MULTILINE | re.DOTALL)
CONF = """\
{user}worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    include /etc/nginx/mime.types;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port};
{locations}
    }}
}}
"""


def documented_locations(public: Path) -> str:
    blocks = [match.group(0) for match in LOCATION.finditer(DEPLOY.read_text(encoding="utf-8"))]
    assert len(blocks) == 2, "docs/deploy.md lost its /feeds/ or /media/ location"
    return "\n".join(blocks).replace("/srv/dispatch/public", str(public))


def test_nginx_serves_feeds_and_media_as_documented(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    if not Path(NGINX).exists():
        pytest.fail(f"{NGINX} not found: install Debian's nginx-light")
    public = settings.feeds.public_dir
    add_article(db, "harbour-news")
    with db.session() as session:
        publish_feeds(settings, build_feeds(session, settings), ping=False)
    image = MediaStore.of(settings).add("chart.png", chart_png(), 10**7, 10**8)
    port = free_port()
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        CONF.format(user=user, tmp=tmp_path, port=port, locations=documented_locations(public))
    )
    server = subprocess.Popen([NGINX, "-p", str(tmp_path), "-c", str(conf)], stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=5) as client:
            deadline = time.monotonic() + 10
            while True:
                try:
                    feed = client.get("/feeds/rss.xml")
                    break
                except httpx.TransportError:
                    assert server.poll() is None, server.stderr.read() if server.stderr else ""
                    assert time.monotonic() < deadline, "nginx did not start"
                    time.sleep(0.05)
            assert feed.status_code == 200 and feed.content == (public / "rss.xml").read_bytes()
            assert feed.headers["cache-control"] == "public, max-age=300"
            listed = client.get("/feeds/lists/morning-briefing/feed.json")
            assert listed.status_code == 200
            media = client.get(image.url.removeprefix(settings.site.base_url))
            assert media.status_code == 200 and media.headers["content-type"] == "image/png"
            assert media.headers["cache-control"] == "public, max-age=31536000, immutable"
            assert (
                media.content
                == (public / image.url.split("/media/")[1].join(["media/", ""])).read_bytes()
            )
            json_path = image.url.removeprefix(settings.site.base_url).replace("-600.png", ".json")
            assert client.get(json_path).status_code == 404
            assert client.get("/feeds/.websub-pending.json").status_code == 404
            assert client.get("/feeds/../config.toml").status_code in (400, 404)
    finally:
        server.terminate()
        server.wait(timeout=10)
        if server.stderr is not None:
            server.stderr.close()
    shutil.rmtree(tmp_path / "body", ignore_errors=True)


FENCED = re.compile(r"^```nginx\n(.*?)^```$", re.MULTILINE | re.DOTALL)
HTTP_WRAPPER = """\
{user}worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    include /etc/nginx/mime.types;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
{config}
}}
"""


def documented_config(public: Path, port: int, app_port: int) -> str:
    """docs/deploy.md's whole nginx block, on loopback ports instead of 443 and 8001/8002."""
    [block] = FENCED.findall(DEPLOY.read_text(encoding="utf-8"))
    replaced = block.replace("/srv/dispatch/public", str(public))
    replaced = replaced.replace("listen 443 ssl http2;", f"listen 127.0.0.1:{port};")
    replaced = re.sub(
        r"(?m)^    server 127\.0\.0\.1:8001;\n    server 127\.0\.0\.1:8002;\n",
        f"    server 127.0.0.1:{app_port};\n",
        replaced,
    )
    assert f"127.0.0.1:{app_port}" in replaced and f"127.0.0.1:{port}" in replaced
    return replaced


def client_ips(log: Path, probe: str) -> list[str]:
    """The client addresses the app's access log shows for requests naming `probe`."""
    return re.findall(
        rf"(\d+\.\d+\.\d+\.\d+):\d+ - \\?\"GET /healthz\?probe={probe} ", log.read_text()
    )


def test_the_documented_nginx_fronts_dispatch_serve(
    db: Database, settings: Settings, config_path: Path, tmp_path: Path
) -> None:
    """Feeds and media straight from public_dir, pages, static files and the API through
    the proxy, and the reader's address (not nginx's, not a forged one) in the app."""
    if not Path(NGINX).exists():
        pytest.fail(f"{NGINX} not found: install Debian's nginx-light")
    public = settings.feeds.public_dir
    add_article(db, "harbour-news")
    with db.session() as session:
        publish_feeds(settings, build_feeds(session, settings), ping=False)
    image = MediaStore.of(settings).add("chart.png", chart_png(), 10**7, 10**8)
    port, app_port = free_port(), free_port()
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf = tmp_path / "nginx.conf"
    config_text = documented_config(public, port, app_port)
    conf.write_text(HTTP_WRAPPER.format(user=user, tmp=tmp_path, config=config_text))
    with dispatch_serve(config_path, app_port):
        server = subprocess.Popen(
            [NGINX, "-p", str(tmp_path), "-c", str(conf)], stderr=subprocess.PIPE
        )
        try:
            reader = httpx.HTTPTransport(local_address="127.0.0.2")  # the reader's address
            base = f"http://127.0.0.1:{port}"
            with httpx.Client(base_url=base, timeout=5, transport=reader) as client:
                wait_until_up(client, server)
                feed = client.get("/feeds/rss.xml")
                assert feed.status_code == 200
                assert feed.content == (public / "rss.xml").read_bytes()
                assert feed.headers["cache-control"] == "public, max-age=300"
                media = client.get(image.url.removeprefix(settings.site.base_url))
                assert media.status_code == 200 and media.headers["content-type"] == "image/png"
                page = client.get("/articles/harbour-news")  # proxied to dispatch serve
                assert page.status_code == 200 and "content-security-policy" in page.headers
                css = client.get("/static/site.css")
                assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
                assert client.get("/healthz?probe=plain").json() == {"status": "ok"}
                forged = {"X-Forwarded-For": "203.0.113.9", "X-Real-IP": "203.0.113.9"}
                assert client.get("/healthz?probe=forged", headers=forged).status_code == 200
                huge = client.post(
                    "/api/articles",
                    content=b"x" * 5_000_000,
                    headers={"content-type": "application/json"},
                )
                assert huge.status_code == 413  # Dispatch's own limit, behind nginx
            direct = f"http://127.0.0.1:{app_port}"
            with httpx.Client(base_url=direct, timeout=5, transport=reader) as client:
                # Straight to the app from an address it does not trust: headers ignored.
                client.get("/healthz?probe=direct", headers={"X-Forwarded-For": "203.0.113.9"})
            log = config_path.parent / "serve.log"
            deadline = time.monotonic() + 5
            while not client_ips(log, "direct") and time.monotonic() < deadline:
                time.sleep(0.05)
            assert client_ips(log, "plain") == ["127.0.0.2"]  # nginx's X-Forwarded-For
            assert client_ips(log, "forged") == ["127.0.0.2"]  # the forged one is not used
            assert client_ips(log, "direct") == ["127.0.0.2"]  # no trusted proxy, no header
        finally:
            server.terminate()
            server.wait(timeout=10)
            if server.stderr is not None:
                server.stderr.close()
    shutil.rmtree(tmp_path / "body", ignore_errors=True)


def wait_until_up(client: httpx.Client, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 10
    while True:
        try:
            client.get("/feeds/rss.xml")
            return
        except httpx.TransportError:
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            assert time.monotonic() < deadline, "nginx did not start"
            time.sleep(0.05)
