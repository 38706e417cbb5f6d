"""Sends messages with the Apache C++ client (through its Python wrapper).

Message i has key `key-<run>-<i>`, tag `Tag<i % 3>` and body `body-<run>-<i>`. Every send
result is written as one JSON line to --out; the exit code is 0 only if every send returned
SEND_OK (status 0).

    python produce.py --namesrv 127.0.0.1:9876 --topic T --group pg --count 1000 --run r1 --out sent.jsonl
"""
import argparse
import json
import os
import sys

from rocketmq.client import Message, Producer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--namesrv", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--run", default="r")
    ap.add_argument("--out", required=True)
    ap.add_argument("--access-key", help="sign requests for a broker with aclEnable=true")
    ap.add_argument("--secret-key")
    args = ap.parse_args()

    producer = Producer(args.group)
    producer.set_namesrv_addr(args.namesrv)
    if args.access_key:
        producer.set_session_credentials(args.access_key, args.secret_key, "")
    producer.start()
    failures = 0
    with open(args.out, "w") as out:
        for i in range(args.count):
            msg = Message(args.topic)
            msg.set_keys("key-%s-%d" % (args.run, i))
            msg.set_tags("Tag%d" % (i % 3))
            msg.set_body("body-%s-%d" % (args.run, i))
            try:
                res = producer.send_sync(msg)
                status = int(res.status)
                out.write(json.dumps({"i": i, "status": status, "msg_id": res.msg_id, "offset": res.offset}) + "\n")
            except Exception as e:  # the wrapper raises on transport errors
                status = -1
                out.write(json.dumps({"i": i, "status": status, "error": str(e)}) + "\n")
            if status != 0:
                failures += 1
                print("send %d failed: status %s" % (i, status), file=sys.stderr)
    print("sent %d, failed %d" % (args.count - failures, failures))
    sys.stdout.flush()
    # Both wrappers shut a producer down cleanly, but a plain exit keeps the two versions alike.
    os._exit(0 if failures == 0 else 1)


if __name__ == "__main__":
    main()
