"""Sends transactional messages with the Apache C++ client's transaction producer, called
through ctypes: `CreateTransactionProducer` and `SendMessageTransaction` of the `librocketmq.so`
its Python package ships (the functions Apache's rocketmq-client-python 2.0.0 wraps as
TransactionMQProducer; the wrapper in this virtualenv predates them, so they are declared here).

Message i has body `<exec>-<check>-<run>-<i>`: the local transaction answers <exec>, a check
from the broker answers <check> (commit, rollback or unknown). Every send result and every
check is written as one JSON line to --out. The script waits until each message whose local
transaction answered `unknown` has been checked at least once (or --wait seconds pass).
Exit code 0 only if every send returned SEND_OK and every expected check came.

    python transaction.py --namesrv 127.0.0.1:9876 --topic T --group pg --run r1 --out txn.jsonl
"""
import argparse
import ctypes
import json
import os
import sys
import threading
import time
from ctypes import POINTER, c_char_p, c_int, c_void_p

from rocketmq.ffi import _CSendResult, dll

COMMIT, ROLLBACK, UNKNOWN = 0, 1, 2  # CTransactionStatus
STATES = {"commit": COMMIT, "rollback": ROLLBACK, "unknown": UNKNOWN}

# int (*)(CProducer*, CMessageExt* / CMessage*, void* userData)
TRANSACTION_CHECK_CALLBACK = ctypes.CFUNCTYPE(c_int, c_void_p, c_void_p, c_void_p)
LOCAL_TRANSACTION_EXECUTE_CALLBACK = ctypes.CFUNCTYPE(c_int, c_void_p, c_void_p, c_void_p)

dll.CreateTransactionProducer.argtypes = [c_char_p, TRANSACTION_CHECK_CALLBACK, c_void_p]
dll.CreateTransactionProducer.restype = c_void_p
dll.SendMessageTransaction.argtypes = [
    c_void_p, c_void_p, LOCAL_TRANSACTION_EXECUTE_CALLBACK, c_void_p, POINTER(_CSendResult)]
dll.SendMessageTransaction.restype = c_int
dll.GetMessageBody.argtypes = [c_void_p]
dll.GetMessageBody.restype = c_char_p
dll.GetMessageId.argtypes = [c_void_p]
dll.GetMessageId.restype = c_char_p

PLAN = ["commit-x", "rollback-x", "unknown-commit", "unknown-rollback"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--namesrv", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--run", default="r")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--wait", type=float, default=60.0)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    lock = threading.Lock()
    out = open(args.out, "w")

    def record(obj):
        with lock:
            out.write(json.dumps(obj) + "\n")
            out.flush()

    checked = set()

    def on_check(producer, msg, user_data):
        body = dll.GetMessageBody(msg).decode("utf-8")
        msg_id = (dll.GetMessageId(msg) or b"").decode("utf-8")
        with lock:
            checked.add(body)
        record({"check": body, "msg_id": msg_id})
        return STATES[body.split("-")[1]]

    def on_execute(producer, msg, user_data):
        body = dll.GetMessageBody(msg).decode("utf-8")
        record({"execute": body})
        return STATES[body.split("-")[0]]

    # Keep the callbacks referenced for as long as the library may call them.
    check_cb = TRANSACTION_CHECK_CALLBACK(on_check)
    execute_cb = LOCAL_TRANSACTION_EXECUTE_CALLBACK(on_execute)

    producer = dll.CreateTransactionProducer(args.group.encode(), check_cb, None)
    if not producer:
        print("CreateTransactionProducer failed", file=sys.stderr)
        os._exit(2)
    dll.SetProducerNameServerAddress(producer, args.namesrv.encode())
    if dll.StartProducer(producer) != 0:
        print("StartProducer failed", file=sys.stderr)
        os._exit(2)

    failures = 0
    expect_checks = set()
    i = 0
    for _ in range(args.rounds):
        for plan in PLAN:
            body = "%s-%s-%d" % (plan, args.run, i)
            i += 1
            msg = dll.CreateMessage(args.topic.encode())
            dll.SetMessageTags(msg, b"TagTxn")
            dll.SetMessageKeys(msg, ("key-%s" % body).encode())
            dll.SetMessageBody(msg, body.encode())
            result = _CSendResult()
            status = dll.SendMessageTransaction(producer, msg, execute_cb, None, ctypes.pointer(result))
            record({"send": body, "rc": status, "status": int(result.sendStatus),
                    "msg_id": result.msgId.decode("utf-8"), "offset": result.offset})
            dll.DestroyMessage(msg)
            if status != 0 or result.sendStatus != 0:
                failures += 1
                print("send %s failed: rc %s status %s" % (body, status, result.sendStatus), file=sys.stderr)
            if plan.startswith("unknown"):
                expect_checks.add(body)

    deadline = time.time() + args.wait
    while time.time() < deadline:
        with lock:
            if expect_checks <= checked:
                break
        time.sleep(0.1)
    with lock:
        missing = sorted(expect_checks - checked)
    # Let the END_TRANSACTION answers of the last checks leave before exiting.
    time.sleep(1.0)
    print("sent %d, failed %d, checks missing %s" % (i, failures, missing))
    sys.stdout.flush()
    out.close()
    # Exit without the library's shutdown, as produce.py does.
    os._exit(0 if failures == 0 and not missing else 1)


if __name__ == "__main__":
    main()
