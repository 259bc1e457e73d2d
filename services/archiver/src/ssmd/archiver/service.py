"""`Archiver`: the archiver's streams, consumers and flushes, wired into a `Service`.

For each configured venue it consumes ``MD_<ENV>_<VENUE>`` (and ``RAW_<ENV>_<VENUE>`` when
``include_raw``) with a `BatchConsumer` (durable ``archiver-md`` / ``archiver-raw``, explicit
acks, unlimited redelivery: an archiver must never give up on data). Each batch is flushed
in a worker thread by the stream's flusher, which commits it through the stream's
`StreamManifest`; the consumer acks the batch only after that returns. Rejected payloads go
to ``dlq.<env>.archiver.<venue>`` with their reason.

A failed flush is retried (nak with backoff) unless the manifest broke: then the stream
stops and the service exits non-zero, so the next start recovers from disk. A stream that
does not exist yet (the connector creates it) is waited for. SIGTERM cancels the stream
tasks: each consumer stops pulling, flushes and acks what it holds, and returns.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from prometheus_client import CollectorRegistry

from ssmd.archiver.flush import FlushResult, MarketFlusher, RawFlusher
from ssmd.archiver.layout import STATE_DIR
from ssmd.archiver.manifest import ManifestError, Recovery, StreamManifest
from ssmd.archiver.metrics import ArchiverMetrics
from ssmd.archiver.settings import ArchiverSettings
from ssmd.bus import BatchConsumer, Bus, ConsumerSpec, Message, NotFoundError, Rejected
from ssmd.contracts.subjects import dead_letter_subject, durable_name, md_stream, raw_stream
from ssmd.core.cancel import raise_if_cancelling
from ssmd.core.errors import TemporaryError
from ssmd.core.retry import Backoff
from ssmd.core.runtime import Service

log = logging.getLogger(__name__)

StreamKind = Literal["md", "raw"]
_WAIT_FOR_STREAM = Backoff(initial_s=0.5, max_s=10.0)


@dataclass(slots=True)
class ArchivedStream:
    """One stream being archived: its consumer, manifest and flusher."""

    kind: StreamKind
    venue: str
    name: str
    manifest: StreamManifest
    flusher: MarketFlusher | RawFlusher
    consumer: BatchConsumer
    fatal: ManifestError | None = None


class Archiver:
    """Archives the MD (and RAW) streams of the configured venues; see the module docstring."""

    def __init__(
        self,
        settings: ArchiverSettings,
        env: str,
        bus: Bus,
        *,
        registry: CollectorRegistry,
    ) -> None:
        self.settings = settings
        self.env = env
        self.bus = bus
        self.metrics = ArchiverMetrics(registry)
        self.streams: list[ArchivedStream] = []
        for venue in settings.venues:
            self.streams.append(self._stream("md", venue))
            if settings.include_raw:
                self.streams.append(self._stream("raw", venue))

    def _stream(self, kind: StreamKind, venue: str) -> ArchivedStream:
        s = self.settings
        name = (md_stream if kind == "md" else raw_stream)(self.env, venue).name
        manifest = StreamManifest(s.archive_dir, name, compact_every=s.manifest_compact_every)
        flusher: MarketFlusher | RawFlusher = (
            MarketFlusher(venue, manifest) if kind == "md" else RawFlusher(venue, manifest)
        )
        spec = ConsumerSpec(
            stream=name,
            durable=durable_name("archiver", kind),
            ack_wait_s=s.ack_wait_s,
            max_deliver=-1,  # never dead-letter data because a disk was full for a while
            max_ack_pending=s.max_buffered_rows,
            description=f"ssmd archiver: {name} into {s.archive_dir}",
        )
        holder: list[ArchivedStream] = []

        async def handle(messages: Sequence[Message]) -> Sequence[Rejected]:
            return await self._flush(holder[0], messages)

        consumer = BatchConsumer(
            self.bus,
            spec,
            handle,
            dead_letter_subject=dead_letter_subject(self.env, f"archiver.{venue}"),
            max_batch=s.flush_rows,
            max_wait_s=s.flush_interval_s,
            max_buffered=s.max_buffered_rows,
            fetch_batch=s.fetch_batch,
        )
        stream = ArchivedStream(kind, venue, name, manifest, flusher, consumer)
        holder.append(stream)
        self.metrics.watch(name, consumer)
        return stream

    # -- life ----------------------------------------------------------------------------
    def open(self) -> dict[str, Recovery]:
        """Lock and recover every stream's manifest (blocking I/O: run it in a thread)."""
        opened: dict[str, Recovery] = {}
        try:
            for stream in self.streams:
                opened[stream.name] = stream.manifest.open()
        except BaseException:
            self.close()
            raise
        return opened

    def close(self) -> None:
        for stream in self.streams:
            stream.manifest.close()

    def register(self, service: Service) -> None:
        """Add the readiness checks, one task per stream and the shutdown step."""
        service.add_check("nats", self.bus.ready)
        service.add_check("archive", self.archive_ready)
        for stream in self.streams:
            service.add_task(f"archive:{stream.name}", _task(self, stream))

        async def close() -> None:
            self.close()

        service.on_shutdown("manifests", close)

    async def archive_ready(self) -> bool | str:
        """Ready while every manifest works and the archive directory takes writes."""
        for stream in self.streams:
            state = stream.manifest.state()
            if state != "open":
                reason = stream.manifest.broken or state
                return f"{stream.name} manifest {reason}"
        try:
            await asyncio.to_thread(_probe_write, self.settings.archive_dir)
        except OSError as exc:
            return f"archive dir not writable: {exc}"
        return True

    async def run_stream(self, stream: ArchivedStream) -> None:
        """Consume one stream until stopped; wait for it if it does not exist yet."""
        attempt = 0
        while True:
            try:
                await stream.consumer.run()
            except (NotFoundError, TemporaryError) as exc:
                raise_if_cancelling()  # a cancel nats-py swallowed must still stop us
                attempt += 1
                delay_s = _WAIT_FOR_STREAM.delay_s(attempt)
                log.warning(
                    "stream %s not consumable (%s); trying again in %.1fs",
                    stream.name,
                    exc,
                    delay_s,
                )
                await asyncio.sleep(delay_s)
                continue
            if stream.fatal is not None:
                raise stream.fatal
            return

    # -- flushing ------------------------------------------------------------------------
    async def _flush(self, stream: ArchivedStream, messages: Sequence[Message]) -> list[Rejected]:
        if stream.fatal is not None:
            raise stream.fatal  # naked; the stream is stopping
        started = time.perf_counter()
        try:
            result: FlushResult = await asyncio.to_thread(stream.flusher.flush, messages)
        except Exception as exc:
            self.metrics.flush_errors.labels(stream.name).inc()
            broken = stream.manifest.broken
            if isinstance(exc, ManifestError) or broken is not None:
                stream.fatal = exc if isinstance(exc, ManifestError) else ManifestError(broken)
                log.critical("stream %s: %s; stopping", stream.name, stream.fatal)
                stream.consumer.stop()
            raise
        seconds = time.perf_counter() - started
        self.metrics.flushed(stream.name, stream.venue, result, seconds, time.time())
        if result.rejected:
            log.warning(
                "stream %s: %d undecodable message(s) to the dead-letter subject",
                stream.name,
                len(result.rejected),
            )
        return result.rejected


def tune_gc() -> None:
    """Make Python's cycle collector cheap for a process holding ~100k messages.

    The default (a young collection every 700 allocations, an old one every 100 of those)
    walks every held message again and again while a batch fills. Collecting young objects
    every 50k allocations, and freezing what start-up created, took the no-op consumer of
    bench/bench_archiver.py from ~46k to ~56k events/s in a paired run on a busy 2-core
    machine. Garbage without cycles (nearly all of it) is freed by reference counting as
    before; the thresholds bound how long cyclic garbage lingers.
    """
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


def _task(archiver: Archiver, stream: ArchivedStream) -> Callable[[], Coroutine[Any, Any, None]]:
    async def run() -> None:
        await archiver.run_stream(stream)

    return run


def _probe_write(archive_dir: os.PathLike[str]) -> None:
    probe = os.path.join(archive_dir, STATE_DIR, f".probe-{os.getpid()}")
    with open(probe, "wb") as handle:
        handle.write(b"ok")
    os.unlink(probe)
