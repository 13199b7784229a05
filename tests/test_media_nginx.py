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
