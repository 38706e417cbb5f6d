//! Crash tests with real processes: a child process (this test executable, re-invoked with
//! `STORE_CRASH_CHILD_DIR` set) appends with SYNC_FLUSH from several threads and prints each
//! acknowledged message; the parent kills it with SIGKILL at a random moment, reopens the
//! store and checks that every acknowledged message is there, byte for byte, and that the
//! store takes appends again. Rounds reuse one directory, so each recovery starts from the
//! previous one's result.

mod store_util;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rmq_broker::store::{FlushDiskType, MessageStore, StoreConfig};
use rmq_remoting::message::MessageRecord;
use store_util::{body, msg, tiny};

const CHILD_ENV: &str = "STORE_CRASH_CHILD_DIR";
const WRITERS: i32 = 4;
const ROUNDS: usize = 24;

fn config(root: &std::path::Path) -> StoreConfig {
    StoreConfig {
        flush_disk_type: FlushDiskType::Sync,
        commit_log_file_size: 64 * 1024,
        consume_queue_entries_per_file: 64,
        consume_queue_flush_interval: std::time::Duration::from_millis(50),
        ..tiny(root)
    }
}

/// The message a writer appends as number `n` of its queue: the body is derived from both, so
/// the parent can rebuild it.
fn message(queue: i32, n: u64) -> MessageRecord {
    let seed = (queue as u64) << 32 | n;
    msg(
        "Crash",
        queue,
        &body(seed, 50 + (seed as usize * 7919) % 900),
        Some("TagC"),
    )
}

/// The writer child. A no-op unless started by `crash_rounds_keep_every_acknowledged_message`.
#[test]
fn child_writer() {
    let Ok(dir) = std::env::var(CHILD_ENV) else { return };
    let store = MessageStore::open(config(std::path::Path::new(&dir))).unwrap();
    let stdout = std::sync::Arc::new(std::sync::Mutex::new(std::io::stdout()));
    println!("ready");
    let threads: Vec<_> = (0..WRITERS)
        .map(|q| {
            let (store, stdout) = (store.clone(), stdout.clone());
            std::thread::spawn(move || loop {
                let n = store.max_offset("Crash", q);
                let r = store.append(&message(q, n)).unwrap();
                assert_eq!(r.queue_offset, n, "one writer per queue");
                store
                    .wait_flushed(r.next_offset(), Duration::from_secs(5))
                    .unwrap();
                let mut out = stdout.lock().unwrap();
                writeln!(out, "ack {q} {n} {} {}", r.physical_offset, r.store_timestamp).unwrap();
                out.flush().unwrap();
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
}

#[test]
fn crash_rounds_keep_every_acknowledged_message() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5EED);
    // (queue, n, physical offset, store timestamp) of every acknowledged message of every round.
    let mut acked: Vec<(i32, u64, u64, i64)> = Vec::new();
    let started = Instant::now();
    for round in 0..ROUNDS {
        let mut child = Command::new(&exe)
            .args(["--exact", "child_writer", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let errors = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = std::io::Read::read_to_string(&mut stderr, &mut s);
            s
        });
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Wait for the store to open, then let it write for a random while.
        // The test harness prints its own text first ("test child_writer ... " ends up in
        // front of "ready").
        loop {
            let Ok(line) = rx.recv_timeout(Duration::from_secs(20)) else {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "round {round}: child did not start; its stderr:\n{}",
                    errors.join().unwrap()
                );
            };
            if line.ends_with("ready") {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(rng.gen_range(5..250)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        reader.join().unwrap();
        drop(errors);
        let mut this_round = 0;
        for line in rx.try_iter() {
            let parts: Vec<_> = line.split_whitespace().collect();
            if let ["ack", q, n, phys, ts] = parts[..] {
                let (q, n) = (q.parse().unwrap(), n.parse().unwrap());
                acked.push((q, n, phys.parse().unwrap(), ts.parse().unwrap()));
                this_round += 1;
            }
        }
        // Reopen and check every acknowledgement of every round so far.
        let store = MessageStore::open(config(dir.path())).unwrap();
        for (q, n, phys, ts) in &acked {
            // Every byte of the record is known: the message, plus what the store filled in.
            let want = MessageRecord {
                queue_offset: *n as i64,
                physical_offset: *phys as i64,
                store_timestamp: *ts,
                ..message(*q, *n)
            };
            let mut want_bytes = bytes::BytesMut::new();
            want.encode(&mut want_bytes).unwrap();
            let raw = store
                .read_record(*phys)
                .unwrap_or_else(|| panic!("round {round}: lost {q}/{n} at {phys}"));
            assert!(
                raw[..] == want_bytes[..],
                "round {round}: {q}/{n} at {phys} differs from what was acknowledged"
            );
            let pulled = store.get_messages("Crash", *q, *n, 1, &|_| true);
            assert_eq!(
                pulled.messages.first(),
                Some(&raw),
                "round {round}: queue entry {q}/{n}"
            );
        }
        // Queue offsets stay dense: every entry below max reads back as a valid record.
        for q in 0..WRITERS {
            let max = store.max_offset("Crash", q);
            let r = store.get_messages("Crash", q, max.saturating_sub(1), 1, &|_| true);
            if max > 0 {
                let (rec, _) = MessageRecord::decode(&r.messages[0], true).unwrap();
                assert_eq!(rec.queue_offset as u64, max - 1);
            }
        }
        assert!(
            this_round > 0 || round > 0,
            "the first round acknowledged nothing"
        );
        drop(store);
        // Alternate: half the rounds leave a clean shutdown behind, half a crashed child only.
        if round % 2 == 1 {
            std::fs::write(dir.path().join("abort"), b"").unwrap();
        }
    }
    assert!(acked.len() > ROUNDS, "too few acknowledgements: {}", acked.len());
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "crash suite took {:?}",
        started.elapsed()
    );
}
