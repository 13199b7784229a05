"""Benchmark the feed endpoint over HTTP: `dispatch serve` against nginx, same files.

    .venv/bin/python benchmarks/feeds_http.py [--articles N] [--seconds S] [--connections C]

Needs Debian's `nginx` and `wrk` (`apt-get install -y nginx wrk`). In a temporary folder
it makes a store of N published articles (default 50), builds the feeds, then starts

- `dispatch serve --no-scheduler` (uvicorn, one worker) on a free loopback port, and
- nginx (one worker process, `etag on`) serving the same `feeds.public_dir` at
  `/feeds/` on another loopback port, in the foreground with a generated config,

and runs wrk for S seconds (default 5) against the site feed (`/feeds/rss.xml`) of
each: plain GETs (200) and GETs with `If-None-Match: <its ETag>` (304). It prints
requests/s for every run and Dispatch's rate as a share of nginx's. Both servers and
wrk share this machine's CPUs, so compare the ratios, not the absolute numbers.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from dispatch import config
from dispatch.lists import sync_lists
from dispatch.publish import publish_feeds
from dispatch.render.feeds import build_feeds
from dispatch.setup import default_config_text
from dispatch.store import migrate
from dispatch.store.database import Database
from dispatch.store.models import Article, ArticleStatus

NGINX, WRK = "/usr/sbin/nginx", "/usr/bin/wrk"
FEED = "/feeds/rss.xml"
START = datetime(2026, 1, 5, 6, tzinfo=UTC)
SECTIONS = ["world", "technology", "culture"]
PARAGRAPH = "The harbour authority met on Tuesday to weigh the proposal to widen the channel. "
NGINX_CONF = """\
{user}worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    etag on;
    types {{ application/rss+xml xml; application/feed+json json; }}
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location /feeds/ {{ alias {public}/; }}
    }}
}}
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def prepare(folder: Path, articles: int, port: int) -> Path:
    """A config, a migrated SQLite store of `articles` articles and the built feeds."""
    body = default_config_text()
    url = f"sqlite:///{folder / 'var' / 'dispatch.db'}"
    body = re.sub(r'(?m)^url = "sqlite:///var/dispatch.db".*$', f'url = "{url}"', body)
    body = re.sub(r"(?m)^base_url = .*$", f'base_url = "http://127.0.0.1:{port}"', body)
    path = folder / "config.toml"
    path.write_text(body, encoding="utf-8")
    settings = config.load(path)
    database = Database(settings.database)
    migrate.upgrade(database.engine)
    with database.session() as session:
        sync_lists(session, settings)
        for number in range(articles):
            when = START + timedelta(hours=number)
            session.add(
                Article(
                    slug=f"story-{number}",
                    title=f"Story {number}: the harbour vote",
                    summary=f"Summary of story {number}.",
                    body_html=f"<p>{PARAGRAPH * 8}</p>",
                    body_text=PARAGRAPH * 8,
                    section=SECTIONS[number % len(SECTIONS)],
                    status=ArticleStatus.PUBLISHED,
                    published_at=when,
                    created_at=when,
                    updated_at=when,
                    source="bench",
                    source_id=str(number),
                    content_hash=str(number),
                )
            )
    with database.session() as session:
        publish_feeds(settings, build_feeds(session, settings), ping=False)
    database.dispose()
    return path


@contextmanager
def running(command: list[str], url: str, log: Path) -> Iterator[None]:
    """Start `command`, wait until `url` answers, stop it (SIGTERM) at the end."""
    with open(log, "wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            if process.poll() is not None:
                sys.exit(f"{command[0]} exited early:\n{log.read_text(errors='replace')}")
            try:
                if httpx.get(url, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                sys.exit(f"{url} did not answer within 20 s; see {log}")
            time.sleep(0.1)
        yield
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def nginx_command(tmp: Path, public: Path, port: int) -> list[str]:
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers must read the temp folder
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX_CONF.format(user=user, tmp=tmp, port=port, public=public))
    return [NGINX, "-p", str(tmp), "-c", str(conf), "-e", str(tmp / "nginx-error.log")]


def wrk(url: str, seconds: int, connections: int, headers: dict[str, str]) -> float:
    command = [WRK, "-t1", f"-c{connections}", f"-d{seconds}s"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if errors:
        sys.exit(f"wrk saw {errors.group(1)} error responses from {url}:\n{output}")
    found = re.search(r"Requests/sec:\s+([0-9.]+)", output)
    if found is None:
        sys.exit(f"cannot read wrk's output:\n{output}")
    return float(found.group(1))


def measure(name: str, url: str, args: argparse.Namespace) -> tuple[float, float]:
    """(200 rate, 304 rate) for one server, after checking it answers both."""
    first = httpx.get(url)
    etag = first.headers["etag"]
    check = httpx.get(url, headers={"If-None-Match": etag})
    assert first.status_code == 200 and check.status_code == 304, (first, check)
    full = wrk(url, args.seconds, args.connections, {})
    cached = wrk(url, args.seconds, args.connections, {"If-None-Match": etag})
    size = len(first.content)
    print(f"{name:10} 200: {full:10,.0f} req/s   304: {cached:10,.0f} req/s   ({size:,} B)")
    return full, cached


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    missing = [tool for tool in (NGINX, WRK) if not Path(tool).exists()]
    if missing:
        sys.exit(f"missing {', '.join(missing)}: install them with `apt-get install -y nginx wrk`")
    dispatch_port, nginx_port = free_port(), free_port()
    with tempfile.TemporaryDirectory(prefix="dispatch-feeds-http-") as name:
        tmp = Path(name)
        path = prepare(tmp, args.articles, dispatch_port)
        public = config.load(path).feeds.public_dir
        serve = [sys.executable, "-m", "dispatch", "--config", str(path), "serve"]
        serve += ["--no-scheduler", "--no-access-log", "--port", str(dispatch_port)]
        ours = f"http://127.0.0.1:{dispatch_port}{FEED}"
        theirs = f"http://127.0.0.1:{nginx_port}{FEED}"
        print(f"{args.articles} articles; wrk -t1 -c{args.connections} -d{args.seconds}s on {FEED}")
        with running(serve, ours, tmp / "serve.log"):
            dispatch = measure("dispatch", ours, args)
        with running(nginx_command(tmp, public, nginx_port), theirs, tmp / "nginx.log"):
            reference = measure("nginx", theirs, args)
        shutil.rmtree(tmp / "var", ignore_errors=True)
    print(
        f"dispatch / nginx: 200 {dispatch[0] / reference[0]:.1%}   "
        f"304 {dispatch[1] / reference[1]:.1%}"
    )


if __name__ == "__main__":
    main()
