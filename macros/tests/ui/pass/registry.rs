//! Every annotated function of the binary is in the registry, sorted by name, without any
//! table in `main`.

use cloudport::Error;
use cloudport::function::{BlobEvent, Context, HttpRequest, HttpResponse, QueueBatch, ScheduleTick, Trigger};

mod api {
    use super::*;

    #[cloudport::function(http)]
    pub async fn upload(_req: HttpRequest, _ctx: Context) -> Result<HttpResponse, Error> {
        Ok(HttpResponse::default())
    }
}

#[cloudport::function(blob = "uploads/")]
async fn on_upload(_event: BlobEvent) -> Result<(), Error> {
    Ok(())
}

#[cloudport::function(queue = "jobs", name = "count-words")]
async fn count_words(_batch: QueueBatch<String>) -> Result<(), Error> {
    Ok(())
}

#[cloudport::function(schedule = "*/2 * * * * *")]
async fn sweep(_tick: ScheduleTick) -> Result<(), Error> {
    Ok(())
}

#[cloudport::function]
async fn summarize(_: ()) -> Result<u64, Error> {
    Ok(0)
}

fn main() {
    let fns = cloudport::function::registry::registered().unwrap();
    let names: Vec<&str> = fns.iter().map(|f| f.name()).collect();
    assert_eq!(names, ["count-words", "on_upload", "summarize", "sweep", "upload"]);
    let triggers: Vec<&Trigger> = fns.iter().map(|f| f.trigger()).collect();
    assert_eq!(triggers[0], &Trigger::Queue { queue: "jobs".into() });
    assert_eq!(triggers[2], &Trigger::Invoke);
    assert_eq!(api::upload::function().name(), "upload");
}
