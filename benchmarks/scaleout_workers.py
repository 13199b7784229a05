"""Scale-out benchmark: a campaign sent by 1 and by 2 `dispatch worker` processes.

    DISPATCH_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
        .venv/bin/python benchmarks/scaleout_workers.py [--recipients 100000]
        [--broker redis://127.0.0.1:6379/0] [--concurrency 4]

Each run gets a fresh PostgreSQL schema with N confirmed subscribers, starts one
campaign with the Celery executor and real `dispatch worker` processes, and sends it
over SMTP to an aiosmtpd server in a process of its own (which counts recipients and
keeps no data). Prints messages/s for 1 and for 2 workers and the speed-up, and checks
that every recipient received the campaign exactly once.

On this 2-core machine the aiosmtpd server itself needs about 1 ms of CPU per message,
so it shares the cores with the workers: read the speed-up with that in mind.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from campaign_common import SECRET, make_site, populate, start
from campaign_smtp import serve
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from dispatch.config import Settings
from dispatch.executor.celery_app import make_app
from dispatch.executor.celery_submit import CeleryExecutor
from dispatch.jobs import JobContext
from dispatch.metrics import Metrics
from dispatch.store.database import Database
from dispatch.store.models import Campaign, CampaignStatus


@contextmanager
def schema(base_url: str) -> Iterator[str]:
    base = make_url(base_url)
    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{name}"'))
    try:
        yield base.update_query_dict({"options": f"-csearch_path={name}"}).render_as_string(
            hide_password=False
        )
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()


def site(folder: Path, url: str, port: int, broker: str, concurrency: int) -> Settings:
    return make_site(
        folder,
        {
            r'^url = "sqlite:.*$': f'url = "{url}"',
            r'^backend = "outbox".*$': 'backend = "smtp"',
            r"^port = 25$": f"port = {port}",
            r'^security = "starttls".*$': 'security = "none"',
            r"^pool_size = 2 .*$": f"pool_size = {concurrency}",
            r"^concurrency = 2 .*$": f"concurrency = {concurrency}",
            r'^kind = "inline".*$': 'kind = "celery"',
            r"^broker_url = .*$": f'broker_url = "{broker}"',
        },
    )


def run(args: argparse.Namespace, workers: int, port: int, pipe: object) -> float:
    with tempfile.TemporaryDirectory() as tmp, schema(args.database) as url:
        folder = Path(tmp)
        settings = site(folder, url, port, args.broker, args.concurrency)
        populate(settings, args.recipients)
        db = Database(settings.database)
        campaign_id = start(settings, db)
        app = make_app(settings)
        app.control.purge()
        app.close()
        env = os.environ | {"DISPATCH_SECRET_KEY": SECRET}
        env.pop("DISPATCH_BROKER_URL", None)
        command = [sys.executable, "-m", "dispatch", "--config", str(settings.path), "worker"]
        logs = [(folder / f"worker{i}.log").open("wb") for i in range(workers)]
        processes = [
            subprocess.Popen(
                [*command, "--concurrency", str(args.concurrency)], env=env, stdout=log, stderr=log
            )
            for log in logs
        ]
        pipe.send("report")  # type: ignore[attr-defined]
        pipe.recv()  # type: ignore[attr-defined]
        began = time.monotonic()
        executor = CeleryExecutor(JobContext(db, settings, Metrics(db)))
        executor.submit(campaign_id)
        executor.close()
        try:
            while status(db, campaign_id) != CampaignStatus.SENT:
                for process in processes:
                    if process.poll() is not None:
                        raise SystemExit(f"worker exited with {process.returncode}; see logs")
                time.sleep(0.2)
            seconds = time.monotonic() - began
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(30)
            for log in logs:
                log.close()
        pipe.send("report")  # type: ignore[attr-defined]
        report = pipe.recv()  # type: ignore[attr-defined]
        db.dispose()
    ok = report["distinct"] == args.recipients and report["max_per_address"] == 1
    print(
        f"{workers} worker(s) x {args.concurrency} connections: {args.recipients:,} in "
        f"{seconds:.1f} s = {args.recipients / seconds:,.0f} msgs/s; server saw "
        f"{report['distinct']:,} distinct, at most {report['max_per_address']} each "
        f"({'ok' if ok else 'MISMATCH'}); server CPU {report['cpu']:.1f} s"
    )
    if not ok:
        raise SystemExit("delivery check failed")
    return seconds


def status(db: Database, campaign_id: int) -> CampaignStatus:
    with db.session() as session:
        campaign = session.get(Campaign, campaign_id, populate_existing=True)
        assert campaign is not None
        return CampaignStatus(campaign.status)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--database", default=os.environ.get("DISPATCH_TEST_DATABASE_URL"))
    args = parser.parse_args()
    if not args.database:
        raise SystemExit("set DISPATCH_TEST_DATABASE_URL (or --database) to a PostgreSQL URL")
    context = multiprocessing.get_context("spawn")
    pipe, child_end = context.Pipe()
    server = context.Process(target=serve, args=(child_end,), daemon=True)
    server.start()
    port = pipe.recv()
    try:
        one = run(args, 1, port, pipe)
        two = run(args, 2, port, pipe)
    finally:
        pipe.send("stop")
        server.join(10)
    print(f"speed-up with 2 workers: {one / two:.2f}x")


if __name__ == "__main__":
    main()
