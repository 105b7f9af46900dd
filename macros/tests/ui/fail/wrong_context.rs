use cloudport::Error;
use cloudport::function::BlobEvent;

#[cloudport::function(blob = "uploads/")]
async fn on_upload(_event: BlobEvent, _store: String) -> Result<(), Error> {
    Ok(())
}

fn main() {}
