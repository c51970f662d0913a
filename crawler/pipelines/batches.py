"""The asyncio batcher of the classify and store stages.

Scoring a hundred ads in one call, or storing them in one transaction, costs far less per ad
than one call each. :class:`Batches` takes elements one at a time from ``process_item`` and
runs them together on the crawl's pipeline worker (:mod:`crawler.pipelines.worker`): those
that come while a batch runs wait and go together into the next one. It knows nothing of
what the work is.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from scrapy.exceptions import DropItem

from crawler.pipelines.worker import PipelineWorker

logger = logging.getLogger(__name__)


class Batches:
    """Runs ``work`` (a function of a list, giving one result per element, and of ``extra()``
    when given) on ``worker`` for things handed in one at a time. Those that come while a batch
    runs wait and go together into the next one, at most ``size``: when the worker keeps up
    each goes alone at once, and when it falls behind, batches grow and each element costs
    less.

    When a batch raises, ``failed(exc, batch)`` may give the exceptions its elements end with
    (the store: the database is gone, so is every element's chance); otherwise the elements are
    run one at a time, so that only the one at fault fails. ``done()`` is called after each
    batch that worked."""

    def __init__(self, worker: PipelineWorker, work: Callable[..., list[Any]], size: int,
                 failed: Callable[[Exception, list[Any]], list[Exception] | None] | None = None,
                 done: Callable[[], None] | None = None,
                 extra: Callable[[], tuple[Any, ...]] | None = None,
                 log_extra: dict[str, Any] | None = None) -> None:
        self.worker, self.work, self.size = worker, work, size
        self.failed, self.done, self.extra = failed, done, extra
        self.log_extra = log_extra or {}  # names the crawl on its log records
        self._waiting: list[tuple[Any, asyncio.Future]] = []
        self._runner: asyncio.Future | None = None

    async def __call__(self, element: Any) -> Any:
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((element, future))
        if self._runner is None or self._runner.done():
            self._runner = asyncio.ensure_future(self._run())
        return await future

    async def _run(self) -> None:
        try:
            while self._waiting:
                batch = self._waiting[:self.size]
                del self._waiting[:len(batch)]
                try:
                    await self._run_batch(batch)
                except Exception as exc:  # a bug here must fail the batch, not hang the crawl
                    logger.exception("a batch failed", extra=self.log_extra)
                    for _, future in batch:
                        _settle(future, error=exc)
        finally:
            # Only reached with elements waiting if this task itself was cancelled.
            waiting, self._waiting = self._waiting, []
            for _, future in waiting:
                _settle(future, error=DropItem("not processed: the crawl is stopping"))

    async def _run_batch(self, batch: list[tuple[Any, asyncio.Future]]) -> None:
        elements = [element for element, _ in batch]
        try:
            results = await self.worker.call(self.work, elements,
                                             *(self.extra() if self.extra else ()))
        except Exception as exc:
            errors = self.failed(exc, elements) if self.failed is not None else None
            if errors is None and len(batch) > 1:
                for entry in batch:
                    await self._run_batch([entry])
                return
            for index, (_, future) in enumerate(batch):
                _settle(future, error=errors[index] if errors is not None else exc)
            return
        if len(results) != len(batch):
            raise ValueError(f"{len(results)} results for a batch of {len(batch)}")
        if self.done is not None:
            self.done()
        for (_, future), result in zip(batch, results, strict=True):
            _settle(future, result)


def _settle(future: asyncio.Future, result: Any = None, error: BaseException | None = None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
