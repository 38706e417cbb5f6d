//! Message store benchmark (not a test): throughput of appends and the time of a crash
//! recovery, on the real 1 GiB file size.
//!
//! ```text
//! cargo run --release -p rmq-broker --example store_bench -- append   [--count 1000000] [--size 1024] [--warm 1]
//! cargo run --release -p rmq-broker --example store_bench -- sync     [--writers 64] [--seconds 5] [--size 1024]
//! cargo run --release -p rmq-broker --example store_bench -- recovery [--mb 1024] [--size 1024]
//! ```
//! `--dir PATH` puts the store there (default: a temporary directory in the current one,
//! removed afterwards). `--warm 1` sets `warmMapedFileEnable`: the writer gets a commit-log
//! file only once every page of it is faulted in, so `append` then times the append path
//! itself; without it the file is touched while the writer appends, and a writer faster than
//! the toucher pays the page faults (on a fresh VM, first-touch of guest memory runs at well
//! under 1 GB/s).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rmq_broker::store::{FlushDiskType, MessageStore, StoreConfig};
use rmq_remoting::message::MessageRecord;

struct Args {
    mode: String,
    count: u64,
    size: usize,
    writers: usize,
    seconds: u64,
    mb: u64,
    dir: Option<PathBuf>,
    warm: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let mode = it
        .next()
        .ok_or("usage: store_bench append|sync|recovery [options]")?;
    let mut a = Args {
        mode,
        count: 1_000_000,
        size: 1024,
        writers: 64,
        seconds: 5,
        mb: 1024,
        dir: None,
        warm: false,
    };
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let num = || value.parse::<u64>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--count" => a.count = num()?,
            "--size" => a.size = num()? as usize,
            "--writers" => a.writers = num()? as usize,
            "--seconds" => a.seconds = num()?,
            "--mb" => a.mb = num()?,
            "--dir" => a.dir = Some(PathBuf::from(&value)),
            "--warm" => a.warm = num()? != 0,
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    Ok(a)
}

/// A record of `size` bytes in total (header, topic and properties included).
fn record(size: usize, queue_id: i32) -> MessageRecord {
    let properties = "TAGS\u{1}TagA\u{2}KEYS\u{1}bench".to_string();
    let topic = "BenchmarkTest".to_string();
    let overhead = 91 + topic.len() + properties.len();
    MessageRecord {
        topic,
        queue_id,
        born_host: "127.0.0.1:40000".parse().expect("address"),
        store_host: "127.0.0.1:10911".parse().expect("address"),
        body: Bytes::from(vec![b'x'; size.saturating_sub(overhead).max(1)]),
        properties,
        ..Default::default()
    }
}

/// CPU time this thread has run, from `/proc/thread-self/schedstat` (Linux), so the numbers
/// mean something on a shared, busy machine too.
fn thread_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace()
        .next()?
        .parse()
        .ok()
        .map(Duration::from_nanos)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg").map_or_else(
        |_| "?".into(),
        |s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
    )
}

fn config(root: &Path, flush: FlushDiskType, warm: bool) -> StoreConfig {
    StoreConfig {
        root: root.to_path_buf(),
        flush_disk_type: flush,
        warm_mapped_file: warm,
        ..StoreConfig::default()
    }
}

fn append(args: &Args, root: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let store = MessageStore::open(config(root, FlushDiskType::Async, args.warm))?;
    let rec = record(args.size, 0);
    // The first append waits for the first (preallocated, touched) file; not timed.
    store.append(&rec)?;
    let cpu0 = thread_cpu();
    let t0 = Instant::now();
    for _ in 0..args.count {
        store.append(&rec)?;
    }
    let secs = t0.elapsed().as_secs_f64();
    let cpu = thread_cpu().zip(cpu0).map(|(b, a)| (b - a).as_secs_f64());
    let bytes = store.stats().bytes_put.load(Ordering::Relaxed);
    println!(
        "append ASYNC_FLUSH{}, 1 thread, {} B records: {} msgs in {secs:.2} s = {:.0} msgs/s, {:.0} MB/s (load average {})",
        if args.warm { " (warmMapedFileEnable)" } else { "" },
        bytes / (args.count + 1),
        args.count,
        args.count as f64 / secs,
        bytes as f64 / secs / 1e6,
        load_average()
    );
    if let Some(cpu) = cpu {
        println!(
            "  appending thread on CPU {cpu:.2} s: {:.0} msgs per CPU-second ({:.2} us per append)",
            args.count as f64 / cpu,
            cpu * 1e6 / args.count as f64
        );
    }
    store.shutdown()?;
    Ok(())
}

fn sync(args: &Args, root: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let store = MessageStore::open(config(root, FlushDiskType::Sync, args.warm))?;
    store.append(&record(args.size, 0))?;
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let timeouts = Arc::new(AtomicU64::new(0));
    let t0 = Instant::now();
    let threads: Vec<_> = (0..args.writers)
        .map(|w| {
            let (store, stop, done, timeouts) = (store.clone(), stop.clone(), done.clone(), timeouts.clone());
            let rec = record(args.size, (w % 8) as i32);
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let Ok(r) = store.append(&rec) else { break };
                    match store.wait_flushed(r.next_offset(), Duration::from_secs(5)) {
                        Ok(()) => done.fetch_add(1, Ordering::Relaxed),
                        Err(_) => timeouts.fetch_add(1, Ordering::Relaxed),
                    };
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(args.seconds));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    let secs = t0.elapsed().as_secs_f64();
    let n = done.load(Ordering::Relaxed);
    let syncs = store.stats().commit_log_syncs.load(Ordering::Relaxed).max(1);
    println!(
        "append SYNC_FLUSH, {} writers, {} B records: {n} acknowledged in {secs:.2} s = {:.0} msgs/s ({} flush timeouts, load average {})",
        args.writers,
        args.size,
        n as f64 / secs,
        timeouts.load(Ordering::Relaxed),
        load_average()
    );
    println!(
        "  {syncs} commit-log syncs: {:.1} acknowledged messages per sync",
        n as f64 / syncs as f64
    );
    store.shutdown()?;
    Ok(())
}

fn recovery(args: &Args, root: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let target = args.mb << 20;
    {
        let store = MessageStore::open(config(root, FlushDiskType::Async, false))?;
        let recs: Vec<_> = (0..8).map(|q| record(args.size, q)).collect();
        let mut i = 0;
        while store.max_physical_offset() < target {
            store.append(&recs[i % 8])?;
            i += 1;
        }
        store.shutdown()?;
        println!(
            "wrote {i} records, {} bytes of commit log",
            store.max_physical_offset()
        );
    }
    // Make it look like a crash that lost the checkpoint and the consume queues: the whole log
    // is scanned, CRC-checked and re-dispatched.
    std::fs::write(root.join("abort"), b"")?;
    std::fs::remove_file(root.join("checkpoint"))?;
    std::fs::remove_dir_all(root.join("consumequeue"))?;
    let t0 = Instant::now();
    let cpu0 = thread_cpu();
    let store = MessageStore::open(config(root, FlushDiskType::Async, false))?;
    let secs = t0.elapsed().as_secs_f64();
    let cpu = thread_cpu()
        .zip(cpu0)
        .map_or(f64::NAN, |(b, a)| (b - a).as_secs_f64());
    let rep = store.recovery_report();
    println!(
        "crash recovery of {} bytes: {secs:.2} s to open ({} records checked and dispatched; recovery itself {:.2} s, \
         {cpu:.2} s on CPU; load average {})",
        rep.end,
        rep.records_replayed,
        rep.duration.as_secs_f64(),
        load_average()
    );
    store.shutdown()?;
    Ok(())
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let tmp;
    let root = match &args.dir {
        Some(d) => d.clone(),
        None => {
            tmp = tempfile::tempdir_in(".").expect("temp dir");
            tmp.path().join("store")
        }
    };
    let result = match args.mode.as_str() {
        "append" => append(&args, &root),
        "sync" => sync(&args, &root),
        "recovery" => recovery(&args, &root),
        other => Err(format!("unknown mode {other}").into()),
    };
    if let Err(e) = result {
        eprintln!("store_bench failed: {e}");
        std::process::exit(1);
    }
}
