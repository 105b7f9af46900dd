use cloudport::Error;
use cloudport::function::Context;

#[cloudport::function(queue = "jobs")]
async fn work(_bodies: Vec<u8>, _ctx: Context) -> Result<(), Error> {
    Ok(())
}

fn main() {}
