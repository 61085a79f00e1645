"""What enqueueing a webhook event costs in-process, beside a bare Redis LPUSH.

    .venv/bin/python bench/enqueue.py [--count 2000] [--redis redis://127.0.0.1:6379/15]

CPU (``time.process_time``) and wall time per call of
``process_webhook_event.delay(pk)`` (Celery's publish to the Redis broker,
as the webhook view does it) and of ``LPUSH`` with redis-py (the floor),
interleaved over ``--rounds``; medians and the ratio. The Redis database
given is flushed before and after: use one nothing else uses.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    args = parser.parse_args(argv)
    os.environ.update(REDIS_URL=args.redis, DEBUG="1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "coaching.settings")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import django

    django.setup()
    import redis

    from payments.tasks import process_webhook_event

    client = redis.Redis.from_url(args.redis)
    client.flushdb()
    cases = {
        "process_webhook_event.delay()": lambda: process_webhook_event.delay(1),
        "redis LPUSH (floor)": lambda: client.lpush("bench-floor", "1"),
    }
    cpu = {name: [] for name in cases}
    wall = {name: [] for name in cases}
    try:
        for fn in cases.values():
            fn()  # connections made before timing
        for _ in range(args.rounds):
            for name, fn in cases.items():
                c0, w0 = time.process_time(), time.perf_counter()
                for _ in range(args.count):
                    fn()
                cpu[name].append((time.process_time() - c0) / args.count * 1e6)
                wall[name].append((time.perf_counter() - w0) / args.count * 1e6)
    finally:
        client.flushdb()
    floor = statistics.median(cpu["redis LPUSH (floor)"])
    print("| call | CPU µs (median) | wall µs (median) | floor CPU x |")
    print("|---|--:|--:|--:|")
    for name in cases:
        c = statistics.median(cpu[name])
        print(
            f"| {name} | {c:.0f} | {statistics.median(wall[name]):.0f} | {c / floor:.1f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
