"""Consumes messages with the Apache C++ client's push consumer (through its Python wrapper).

Writes one JSON line per delivery (topic, tags, keys, body, id, queue id/offset) to --out and exits
0 as soon as --expect distinct bodies have been seen, 1 on timeout. Ends with os._exit: the
2.1.0 wrapper's PushConsumer.shutdown() segfaults.

    python consume.py --namesrv 127.0.0.1:9876 --topic T --group cg --expect 1000 --out got.jsonl
"""
import argparse
import json
import os
import sys
import threading
import time

from rocketmq.client import PushConsumer


def text(v):
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return "" if v is None else str(v)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--namesrv", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--expect", type=int, required=True)
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--out", required=True)
    ap.add_argument("--access-key", help="sign requests for a broker with aclEnable=true")
    ap.add_argument("--secret-key")
    args = ap.parse_args()

    lock = threading.Lock()
    bodies = set()
    done = threading.Event()
    out = open(args.out, "w")

    def on_message(msg):
        rec = {
            "topic": text(msg.topic),
            "tags": text(msg.tags),
            "keys": text(msg.keys),
            "body": text(msg.body),
            "id": text(msg.id),
            "queue_id": int(msg.queue_id),
            "queue_offset": int(msg.queue_offset),
        }
        with lock:
            out.write(json.dumps(rec) + "\n")
            bodies.add(rec["body"])
            if len(bodies) >= args.expect:
                done.set()
        # Returning normally acknowledges the message; raising asks for redelivery.

    consumer = PushConsumer(args.group)
    consumer.set_namesrv_addr(args.namesrv)
    if args.access_key:
        consumer.set_session_credentials(args.access_key, args.secret_key, "")
    consumer.subscribe(args.topic, on_message)
    consumer.start()
    ok = done.wait(args.timeout)
    with lock:
        out.flush()
        n = len(bodies)
    print("consumed %d distinct of %d expected%s" % (n, args.expect, "" if ok else " (timed out)"))
    sys.stdout.flush()
    # Let the consumer commit offsets for what it has acknowledged before the hard exit.
    time.sleep(0.5)
    os._exit(0 if ok else 1)


if __name__ == "__main__":
    main()
