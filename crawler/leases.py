"""Per-site limits held by all the workers of a shared crawl together: leases of download slots
in Redis.

Each worker's downloader (``crawler.downloader.SlotLimitedDownloader``) takes a lease before a
request of a download slot (a site, or an IP with ``CONCURRENT_REQUESTS_PER_IP``) starts, and
gives it back when the response or the error is in. One Lua script grants a lease, atomically,
only while fewer than the slot's ``CONCURRENT_REQUESTS_PER_DOMAIN`` are held by all workers and
the slot's next start allowed by ``DOWNLOAD_DELAY`` has come; otherwise it says how long to wait.
Times are Redis' own clock, so workers on machines whose clocks differ agree.

When another worker is waiting for the slot, a worker is granted no more than its fair share of
the limit (the limit divided among the workers waiting, rounded up), so the one that happened to
start first does not keep the site to itself.

A lease expires ``TUTORWATCH_REDIS_LEASE_TTL`` seconds after it was taken or last refreshed; the
worker's heartbeat refreshes the leases it holds every second, so a worker that dies (even by
SIGKILL) leaves no slot taken for longer than that.

Keys, under a shared crawl's base ``P:S`` (:class:`crawler.distributed.SharedCrawl`), for slot
``K``: ``P:S:slot:K`` (sorted set) lease ids (``worker#n``) scored by their expiry in
milliseconds; ``P:S:slot:K:waiting`` (sorted set) workers refused for the limit, scored by when;
``P:S:slotnext`` (hash) slot → the earliest next start in milliseconds; ``P:S:slots`` (set) the
slots used, so that the last worker can delete them all.
"""

from __future__ import annotations

import itertools

import redis

# How long a worker refused for the limit waits before it asks again: a lease given back by
# another worker is free for at most this long.
POLL_SECONDS = 0.05
# A worker refused for the limit counts as waiting this long (it asks again every POLL_SECONDS
# while it waits; one that stopped asking no longer holds the others to a share).
WAITING_SECONDS = 0.5

TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local slot, worker, lease = ARGV[1], ARGV[2], ARGV[3]
local limit, delay, ttl = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local poll, waiting_ms = tonumber(ARGV[7]), tonumber(ARGV[8])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - waiting_ms)
local held = redis.call('ZRANGE', KEYS[1], 0, -1)
local refused = #held >= limit
if not refused then
  local others = 0
  for _, name in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
    if name ~= worker then others = others + 1 end
  end
  if others > 0 then
    local mine, mark = 0, worker .. '#'
    for _, id in ipairs(held) do
      if string.sub(id, 1, #mark) == mark then mine = mine + 1 end
    end
    refused = mine >= math.ceil(limit / (others + 1))
  end
end
if refused then
  redis.call('ZADD', KEYS[2], now, worker)
  redis.call('PEXPIRE', KEYS[2], waiting_ms)
  return poll
end
local next_start = tonumber(redis.call('HGET', KEYS[3], slot) or '0')
if next_start > now then
  return next_start - now
end
redis.call('ZADD', KEYS[1], now + ttl, lease)
redis.call('ZREM', KEYS[2], worker)
if delay > 0 then
  redis.call('HSET', KEYS[3], slot, now + delay)
end
redis.call('SADD', KEYS[4], slot)
return 0
"""

REFRESH = """
local t = redis.call('TIME')
local expiry = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, 'XX', expiry, ARGV[i + 1])
end
return #KEYS
"""


class SlotLeases:
    """One worker's leases of the download slots of one shared crawl."""

    def __init__(self, server: redis.Redis, base: str, worker: str, ttl: float = 5.0) -> None:
        self.server = server
        self.base = base
        self.worker = worker
        self.ttl = ttl
        self.held: dict[str, str] = {}  # lease id → slot
        self._numbers = itertools.count(1)
        self._take = server.register_script(TAKE)
        self._refresh = server.register_script(REFRESH)

    def _leases_key(self, slot: str) -> str:
        return f"{self.base}:slot:{slot}"

    def take(self, slot: str, limit: int, delay: float) -> tuple[str | None, float]:
        """A lease of ``slot`` for one request, or None and the seconds to wait before asking
        again. ``delay`` is the gap the next start of the slot must leave after this one (drawn
        afresh by the caller for each request when the delay is randomized)."""
        lease = f"{self.worker}#{next(self._numbers)}"
        keys = [self._leases_key(slot), f"{self._leases_key(slot)}:waiting",
                f"{self.base}:slotnext", f"{self.base}:slots"]
        wait = self._take(keys, [slot, self.worker, lease, limit, round(delay * 1000),
                                 round(self.ttl * 1000), round(POLL_SECONDS * 1000),
                                 round(WAITING_SECONDS * 1000)])
        if wait:
            return None, int(wait) / 1000
        self.held[lease] = slot
        return lease, 0.0

    def release(self, slot: str, leases: list[str]) -> None:
        """Give back leases of ``slot`` whose requests are done."""
        for lease in leases:
            self.held.pop(lease, None)
        self.server.zrem(self._leases_key(slot), *leases)

    def refresh(self, client: redis.Redis | redis.client.Pipeline | None = None) -> None:
        """Push the expiry of every lease held to ``ttl`` from now (on ``client``, a pipeline
        when the heartbeat sends it with its own write)."""
        if self.held:
            leases = list(self.held.items())
            self._refresh([self._leases_key(slot) for _, slot in leases],
                          [round(self.ttl * 1000), *(lease for lease, _ in leases)],
                          client=client)

    def keys(self) -> list[str]:
        """Every key of the crawl's slots, for the last worker to delete."""
        slots = [s.decode() if isinstance(s, bytes) else s
                 for s in self.server.smembers(f"{self.base}:slots")]
        return [f"{self.base}:slots", f"{self.base}:slotnext",
                *(key for slot in slots
                  for key in (self._leases_key(slot), f"{self._leases_key(slot)}:waiting"))]
