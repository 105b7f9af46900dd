//! A SQLite queue's messages survive its process being killed with SIGKILL: a child process
//! (this test binary, run again) sends, leases and acks, then is killed; the parent opens the
//! file and checks what a restarted consumer sees.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use cloudport_core::time::ManualClock;
use cloudport_core::{Message, Queue, ReceiveOptions};
use cloudport_local::SqliteQueue;

/// Set in the child: the database it works on.
const CHILD_ENV: &str = "CLOUDPORT_TEST_SQLITE_QUEUE_CHILD_DB";
const READY: &str = "cloudport-child-ready";
const CHILD_LEASE: Duration = Duration::from_secs(60);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap()
}

/// The child: leaves one message acked, one leased and eleven waiting, then waits to be killed.
fn child(path: &Path) -> ! {
    runtime().block_on(async {
        let q = SqliteQueue::builder(path).queue("jobs").build().unwrap();
        q.send(Message::new("acked")).await.unwrap();
        let d = q.receive(ReceiveOptions::default()).await.unwrap().remove(0);
        q.ack(&d.receipt).await.unwrap();
        q.send(Message::new("leased")).await.unwrap();
        let d = q.receive(ReceiveOptions::default().with_lease(CHILD_LEASE)).await.unwrap().remove(0);
        assert_eq!(&d.body[..], b"leased");
        q.send(Message::new("waiting").with_attribute("k", "v")).await.unwrap();
        let batch = (0..10).map(|i| Message::new(format!("batch-{i}"))).collect();
        for r in q.send_batch(batch).await.unwrap() {
            r.unwrap();
        }
    });
    println!("{READY}");
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

#[test]
fn sent_messages_survive_sigkill() {
    if let Some(path) = std::env::var_os(CHILD_ENV) {
        child(&PathBuf::from(path));
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("queue.db");
    let mut process = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "sent_messages_survive_sigkill", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, &path)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = process.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        // libtest prints "test <name> ... " without a newline before the test runs.
        let ready = BufReader::new(stdout).lines().map_while(Result::ok).any(|line| line.trim_end().ends_with(READY));
        let _ = tx.send(ready);
    });
    let ready = rx.recv_timeout(Duration::from_secs(30));
    process.kill().unwrap(); // SIGKILL on Unix: no destructors, no clean close of the database.
    process.wait().unwrap();
    assert_eq!(ready, Ok(true), "the child process failed before it was ready");

    runtime().block_on(async {
        let clock = ManualClock::new();
        let q = SqliteQueue::builder(&path).queue("jobs").clock(Arc::new(clock.clone())).build().unwrap();
        let all = ReceiveOptions::default().with_max_messages(10);
        let mut bodies = Vec::new();
        loop {
            let got = q.receive(all.clone()).await.unwrap();
            if got.is_empty() {
                break;
            }
            for d in got {
                assert_eq!(d.delivery_count, 1);
                if &d.body[..] == b"waiting" {
                    assert_eq!(d.attributes["k"], "v");
                }
                bodies.push(String::from_utf8(d.body.to_vec()).unwrap());
                q.ack(&d.receipt).await.unwrap();
            }
        }
        bodies.sort();
        let mut expected: Vec<String> = (0..10).map(|i| format!("batch-{i}")).collect();
        expected.push("waiting".to_owned());
        expected.sort();
        assert_eq!(bodies, expected);

        clock.advance(CHILD_LEASE + Duration::from_secs(1));
        let again = q.receive(all).await.unwrap();
        assert_eq!(again.len(), 1, "{again:?}");
        assert_eq!(&again[0].body[..], b"leased");
        assert_eq!(again[0].delivery_count, 2);
        q.ack(&again[0].receipt).await.unwrap();
    });
}
