use cloudport::Error;
use cloudport::function::{BatchOutcome, Context, QueueBatch, Trigger};
use serde::Deserialize;

#[derive(Deserialize)]
struct Job {
    id: u64,
}

#[cloudport::function(queue = "jobs")]
async fn work(batch: QueueBatch<Job>) -> Result<(), Error> {
    let _ids: Vec<u64> = batch.iter().map(|m| m.body.id).collect();
    Ok(())
}

#[cloudport::function(
    queue = "events",
    name = "events",
    batch_size = 10,
    max_deliveries = 5,
    timeout = "2m",
    concurrency = 3
)]
async fn on_events(batch: QueueBatch<String>, _ctx: Context) -> cloudport::Result<BatchOutcome> {
    let _ = batch.len();
    Ok(BatchOutcome::ack_all())
}

fn main() {
    let f = work::function();
    assert_eq!((f.name(), f.trigger()), ("work", &Trigger::Queue { queue: "jobs".into() }));
    assert_eq!(f.settings(), &Default::default());
    let f = on_events::function();
    assert_eq!((f.name(), f.trigger()), ("events", &Trigger::Queue { queue: "events".into() }));
    let s = f.settings();
    assert_eq!((s.batch_size, s.max_deliveries, s.concurrency), (Some(10), Some(5), Some(3)));
    assert_eq!(s.timeout, Some(std::time::Duration::from_secs(120)));
}
