"""How the web app sends: the executor built with the app (or handed to it by
`dispatch serve`, shared with the scheduler), used by the admin and the API alike.

A campaign goes to the configured executor (inline: background threads of this process;
celery: the workers). A test send always runs here, inline, because the editor waits for
its outcome. Nothing here sends or records anything itself: the engine does.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from fastapi import Request

from dispatch.executor import Executor, make_executor
from dispatch.executor.context import EngineContext
from dispatch.executor.inline import InlineExecutor
from dispatch.jobs import JobContext


@dataclass
class Sending:
    jobs: JobContext  # the feeds lock and the executor, shared with an in-process scheduler
    inline: InlineExecutor  # test sends (the configured executor when it is inline)
    owned: bool  # built by the app, so closed by it

    @property
    def executor(self) -> Executor:
        return self.jobs.executor

    def submit(self, campaign_id: int) -> None:
        self.executor.submit(campaign_id)

    def active(self, campaign_id: int) -> bool:
        return self.executor.active(campaign_id)

    async def test(self, campaign_id: int, timeout: float) -> None:
        """Send a test campaign here and wait for it (TimeoutError if it takes too long)."""
        future = self.inline.start(campaign_id)
        await asyncio.wait_for(asyncio.wrap_future(future), timeout)

    def close(self) -> None:
        if self.inline is not self.executor:
            self.inline.close()
        if self.owned:
            self.executor.close()


def build_sending(engines: EngineContext, jobs: JobContext | None) -> Sending:
    """The app's `Sending`: around `jobs` when given, else a JobContext of its own."""
    owned = jobs is None
    if jobs is None:
        jobs = JobContext(engines, make_executor(engines))
    executor = jobs.executor
    inline = executor if isinstance(executor, InlineExecutor) else InlineExecutor(jobs.engines)
    return Sending(jobs, inline, owned)


def sending_of(request: Request) -> Sending:
    found: Sending = request.app.state.sending
    return found
