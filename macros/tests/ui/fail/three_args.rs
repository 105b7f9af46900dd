use cloudport::Error;
use cloudport::function::{Context, QueueBatch};

#[cloudport::function(queue = "jobs")]
async fn work(_batch: QueueBatch<String>, _ctx: Context, _retries: u32) -> Result<(), Error> {
    Ok(())
}

fn main() {}
