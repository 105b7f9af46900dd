use cloudport::Error;
use cloudport::function::{BlobEvent, Context, Trigger};

#[cloudport::function(blob = "uploads/")]
async fn on_upload(event: BlobEvent) -> Result<(), Error> {
    let _ = event.key;
    Ok(())
}

/// The empty prefix: every blob of the default store.
#[cloudport::function(blob = "", concurrency = 1)]
pub(crate) async fn on_any(_event: BlobEvent, _ctx: Context) -> Result<(), Error> {
    Ok(())
}

fn main() {
    assert_eq!(on_upload::function().trigger(), &Trigger::Blob { prefix: "uploads/".into() });
    assert_eq!(on_any::function().trigger(), &Trigger::Blob { prefix: "".into() });
    assert_eq!(on_any::function().settings().concurrency, Some(1));
}
