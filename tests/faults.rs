//! Across process boundaries: a child process is killed (SIGKILL) in the middle of an upload and
//! in the middle of consuming a queue, and nothing may be lost or half-visible; several processes
//! race conditional writes on one filesystem store, and every condition holds; a function host is
//! killed while its handler holds a leased batch, and a restarted host gets the batch again.
//!
//! The child is this same test binary, re-run with `--ignored --exact <child test>` and an
//! environment variable pointing at the shared directory; the `child_*` tests are `#[ignore]`d
//! so they only run that way.
#![cfg(feature = "local")]

use std::collections::HashSet;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use cloudport::{BlobKey, BlobStoreExt, ErrorKind, Message, ReceiveOptions};
use futures::TryStreamExt;

const DIR_ENV: &str = "CLOUDPORT_FAULT_DIR";

fn spawn_child(test: &str, dir: &Path, stdout: Stdio) -> Child {
    Command::new(std::env::current_exe().expect("test binary path"))
        .args(["--ignored", "--exact", test, "--nocapture", "--test-threads", "1"])
        .env(DIR_ENV, dir)
        .stdout(stdout)
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn child test process")
}

fn child_dir() -> PathBuf {
    PathBuf::from(std::env::var_os(DIR_ENV).expect("child tests run only from their parent test"))
}

/// Waits until `ready` holds, failing the test (and killing the child) after `limit`.
fn wait_for(child: &mut Child, limit: Duration, what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ready() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("child exited ({status}) before {what}");
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("timed out waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn kill(mut child: Child) {
    child.kill().expect("SIGKILL the child");
    child.wait().expect("reap the child");
}

fn store_url(dir: &Path) -> String {
    format!("file://{}", dir.join("blobs").display())
}

const OLD_BODY: &str = "the previous version, which must survive";

#[tokio::test]
async fn upload_killed_midway_leaves_no_partial_object() {
    let dir = tempfile::tempdir().unwrap();
    let store = cloudport::blob::open(&store_url(dir.path())).unwrap();
    let replaced = BlobKey::new("big/replaced.bin").unwrap();
    store.put(&replaced, OLD_BODY).await.unwrap();

    let mut child = spawn_child("child_uploads_until_killed", dir.path(), Stdio::null());
    let marker = dir.path().join("uploading");
    wait_for(&mut child, Duration::from_secs(60), "the child's uploads to be under way", || marker.exists());
    kill(child);

    // A fresh store on the same directory, as after a restart.
    let store = cloudport::blob::open(&store_url(dir.path())).unwrap();
    let err = store.head(&BlobKey::new("big/new.bin").unwrap()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "a killed upload must leave no object: {err}");
    assert_eq!(store.get_bytes(&replaced).await.unwrap(), OLD_BODY, "a killed overwrite must keep the old object");
    let keys: Vec<String> = store.list("").map_ok(|e| e.name().to_owned()).try_collect().await.unwrap();
    assert_eq!(keys, vec!["big/replaced.bin".to_owned()], "no partial object or temp file may be listed");
}

#[tokio::test]
#[ignore = "child process of upload_killed_midway_leaves_no_partial_object"]
async fn child_uploads_until_killed() {
    let dir = child_dir();
    let store = cloudport::blob::open(&store_url(&dir)).unwrap();
    let chunk = Bytes::from(vec![7u8; 1 << 20]);
    let mut new = store.put_writer(&BlobKey::new("big/new.bin").unwrap(), Default::default()).await.unwrap();
    let mut over = store.put_writer(&BlobKey::new("big/replaced.bin").unwrap(), Default::default()).await.unwrap();
    for i in 0.. {
        new.write(chunk.clone()).await.unwrap();
        over.write(chunk.clone()).await.unwrap();
        if i == 8 {
            std::fs::write(dir.join("uploading"), b"").unwrap();
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

const MESSAGES: usize = 10_000;
const LEASE: Duration = Duration::from_secs(2);

fn queue_url(dir: &Path) -> String {
    format!("sqlite://{}?queue=jobs", dir.join("queue.db").display())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_killed_midway_loses_no_message() {
    let dir = tempfile::tempdir().unwrap();
    let queue = cloudport::queue::open(&queue_url(dir.path())).unwrap();
    let batch: Vec<Message> = (0..MESSAGES).map(|i| Message::new(i.to_string())).collect();
    for result in queue.send_batch(batch).await.unwrap() {
        result.unwrap();
    }

    // The child records each message it finished, then acks it; it is killed mid-stream, so
    // some messages are leased to it but never acked.
    let log = dir.path().join("processed.log");
    let mut child = spawn_child("child_consumes_until_killed", dir.path(), Stdio::null());
    let mid_batch = dir.path().join("mid-batch");
    wait_for(&mut child, Duration::from_secs(120), "the child to be mid-batch", || mid_batch.exists());
    kill(child);

    let mut seen: HashSet<usize> = HashSet::new();
    let mut by_child = 0;
    for line in std::io::BufReader::new(std::fs::File::open(&log).unwrap()).lines() {
        seen.insert(line.unwrap().parse().unwrap());
        by_child += 1;
    }

    // A new consumer (as after a restart) gets everything else, including the messages the child
    // held when it died, once their leases expire.
    let queue = cloudport::queue::open(&queue_url(dir.path())).unwrap();
    let mut redelivered = 0;
    let deadline = Instant::now() + Duration::from_secs(120);
    while seen.len() < MESSAGES {
        assert!(Instant::now() < deadline, "only {} of {MESSAGES} messages came back", seen.len());
        let opts = ReceiveOptions::default().with_max_messages(10).with_wait(LEASE * 2).with_lease(LEASE * 5);
        for d in queue.receive(opts).await.unwrap() {
            let n: usize = std::str::from_utf8(&d.body).unwrap().parse().unwrap();
            if d.delivery_count > 1 {
                redelivered += 1;
            }
            seen.insert(n);
            queue.ack(&d.receipt).await.unwrap();
        }
    }
    assert!(by_child > 3_000 && by_child < MESSAGES, "the child was killed midway ({by_child} recorded)");
    // The child held a whole batch: the one it recorded without acking and the ones after it.
    assert!(redelivered >= 1, "messages the child held must come back with a higher delivery count");
    let leftovers = queue.receive(ReceiveOptions::default().with_wait(LEASE * 2)).await.unwrap();
    assert!(leftovers.is_empty(), "every message was acked exactly once at the end: {leftovers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "child process of consumer_killed_midway_loses_no_message"]
async fn child_consumes_until_killed() {
    let dir = child_dir();
    let queue = cloudport::queue::open(&queue_url(&dir)).unwrap();
    let mut log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("processed.log")).unwrap();
    let mut processed = 0;
    loop {
        let opts = ReceiveOptions::default().with_max_messages(10).with_wait(Duration::from_secs(1)).with_lease(LEASE);
        let batch = queue.receive(opts).await.unwrap();
        let batch_len = batch.len();
        for (i, d) in batch.into_iter().enumerate() {
            // "Process" the message, record it durably, then ack: a kill between the two is the
            // at-least-once case the parent checks.
            writeln!(log, "{}", std::str::from_utf8(&d.body).unwrap()).unwrap();
            log.flush().unwrap();
            if processed >= 3_000 && i == batch_len / 2 {
                // Recorded but not acked, with the rest of the batch still leased: wait for the kill.
                std::fs::write(dir.join("mid-batch"), b"").unwrap();
                std::future::pending::<()>().await;
            }
            queue.ack(&d.receipt).await.unwrap();
            processed += 1;
        }
    }
}

const CAS_CHILDREN: usize = 3;
const CAS_INCREMENTS: u64 = 60;

#[tokio::test]
async fn conditional_writes_hold_across_processes() {
    let dir = tempfile::tempdir().unwrap();
    let store = cloudport::blob::open(&store_url(dir.path())).unwrap();
    store.put(&BlobKey::new("counter").unwrap(), "0").await.unwrap();
    let children: Vec<Child> =
        (0..CAS_CHILDREN).map(|_| spawn_child("child_races_on_one_root", dir.path(), Stdio::piped())).collect();
    // Start every child at once, so their writes overlap.
    std::fs::write(dir.path().join("go"), b"").unwrap();
    let mut winners = 0;
    for child in children {
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "child failed: {stdout}");
        winners += stdout.matches("created=true").count();
    }
    assert_eq!(winners, 1, "exactly one process may win a create-only race");
    let counter = store.get_bytes(&BlobKey::new("counter").unwrap()).await.unwrap();
    assert_eq!(
        std::str::from_utf8(&counter).unwrap(),
        (CAS_CHILDREN as u64 * CAS_INCREMENTS).to_string(),
        "compare-and-swap increments from several processes must all count"
    );
}

#[tokio::test]
#[ignore = "child process of conditional_writes_hold_across_processes"]
async fn child_races_on_one_root() {
    let dir = child_dir();
    while !dir.join("go").exists() {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let store = cloudport::blob::open(&store_url(&dir)).unwrap();
    let counter = BlobKey::new("counter").unwrap();
    let created = store
        .put_opts(
            &BlobKey::new("race").unwrap(),
            std::process::id().to_string().into(),
            cloudport::PutOptions::default().with_mode(cloudport::PutMode::Create),
        )
        .await;
    match &created {
        Ok(_) => println!("created=true"),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => println!("created=false"),
        Err(e) => panic!("create-only race: {e}"),
    }
    for _ in 0..CAS_INCREMENTS {
        loop {
            let current = store.get(&counter).await.unwrap();
            let etag = current.meta.etag.clone();
            let body = cloudport::blob::collect_body(current.body).await.unwrap();
            let next = std::str::from_utf8(&body).unwrap().parse::<u64>().unwrap() + 1;
            let opts = cloudport::PutOptions::default().with_mode(cloudport::PutMode::IfMatch(etag));
            match store.put_opts(&counter, next.to_string().into(), opts).await {
                Ok(_) => break,
                Err(e) if e.kind() == ErrorKind::PreconditionFailed => continue,
                Err(e) => panic!("compare-and-swap: {e}"),
            }
        }
    }
}

const HOSTED_MESSAGES: usize = 500;

/// The local host's queue functions keep the queue's promise: a host killed (SIGKILL) while its
/// handler holds a leased batch loses nothing; a restarted host gets those messages again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_killed_mid_batch_loses_no_message() {
    use std::sync::{Arc, Mutex};

    use cloudport::function::{Function, QueueBatch};
    use cloudport::local::host::LocalHost;

    let dir = tempfile::tempdir().unwrap();
    let queue = cloudport::queue::open(&queue_url(dir.path())).unwrap();
    let batch: Vec<Message> = (0..HOSTED_MESSAGES).map(|i| Message::new(i.to_string())).collect();
    for result in queue.send_batch(batch).await.unwrap() {
        result.unwrap();
    }

    let mut child = spawn_child("child_hosts_until_killed", dir.path(), Stdio::null());
    let mid_batch = dir.path().join("mid-batch");
    wait_for(&mut child, Duration::from_secs(120), "the child's handler to be mid-batch", || mid_batch.exists());
    kill(child);

    let log = std::fs::read_to_string(dir.path().join("processed.log")).unwrap();
    let by_child: HashSet<usize> = log.lines().map(|l| l.parse().unwrap()).collect();

    // A restarted host on the same durable queue handles everything else, including the batch
    // the killed host held, once its leases expire.
    let seen = Arc::new(Mutex::new((by_child.clone(), 0usize)));
    let record = Arc::clone(&seen);
    let work = move |batch: QueueBatch<usize>| {
        let record = Arc::clone(&record);
        async move {
            let mut seen = record.lock().unwrap();
            for m in &batch {
                seen.0.insert(m.body);
                seen.1 += usize::from(m.delivery_count > 1);
            }
            Ok::<_, cloudport::Error>(())
        }
    };
    let host = LocalHost::builder()
        .function(Function::queue("work", "jobs", work))
        .queue("jobs", cloudport::queue::open(&queue_url(dir.path())).unwrap())
        .http_addr(([127, 0, 0, 1], 0).into())
        .lease(LEASE)
        .build()
        .unwrap()
        .start()
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    // Done when every message was handled by one host or the other and the held batch came back.
    let done = || {
        let seen = seen.lock().unwrap();
        seen.0.len() == HOSTED_MESSAGES && seen.1 > 0
    };
    while !done() {
        let (handled, redelivered) = {
            let seen = seen.lock().unwrap();
            (seen.0.len(), seen.1)
        };
        assert!(Instant::now() < deadline, "{handled} of {HOSTED_MESSAGES} handled, {redelivered} redelivered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    host.shutdown().await.unwrap();
    let redelivered = seen.lock().unwrap().1;
    assert!(by_child.len() >= 200 && by_child.len() < HOSTED_MESSAGES, "killed midway ({} handled)", by_child.len());
    assert!(redelivered >= 1, "the batch the killed host held comes back with a higher delivery count");
    let leftovers = queue.receive(ReceiveOptions::default().with_wait(LEASE * 2)).await.unwrap();
    assert!(leftovers.is_empty(), "the restarted host acked everything: {leftovers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "child process of host_killed_mid_batch_loses_no_message"]
async fn child_hosts_until_killed() {
    use std::sync::{Arc, Mutex};

    use cloudport::function::{Function, QueueBatch};
    use cloudport::local::host::LocalHost;

    let dir = child_dir();
    let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("processed.log")).unwrap();
    let state = Arc::new(Mutex::new((log, 0usize)));
    let mid_batch = dir.join("mid-batch");
    let work = move |batch: QueueBatch<usize>| {
        let state = Arc::clone(&state);
        let mid_batch = mid_batch.clone();
        async move {
            let hang = {
                let mut state = state.lock().unwrap();
                for m in &batch {
                    writeln!(state.0, "{}", m.body).unwrap();
                }
                state.0.flush().unwrap();
                state.1 += batch.len();
                state.1 >= 200
            };
            if hang {
                // Handled but not acked, the batch still leased: wait for the kill.
                std::fs::write(&mid_batch, b"").unwrap();
                std::future::pending::<()>().await;
            }
            Ok::<_, cloudport::Error>(())
        }
    };
    let host = LocalHost::builder()
        .function(Function::queue("work", "jobs", work).with_concurrency(1))
        .queue("jobs", cloudport::queue::open(&queue_url(&dir)).unwrap())
        .http_addr(([127, 0, 0, 1], 0).into())
        .lease(LEASE)
        .build()
        .unwrap()
        .start()
        .await
        .unwrap();
    std::future::pending::<()>().await;
    drop(host);
}
