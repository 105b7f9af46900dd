use cloudport::Error;
use cloudport::function::ScheduleTick;

#[cloudport::function(schedule = "*/5 * * * *")]
async fn tick(_tick: ScheduleTick) -> Result<(), Error> {
    Ok(())
}

fn main() {}
