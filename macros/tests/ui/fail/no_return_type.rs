use cloudport::function::ScheduleTick;

#[cloudport::function(schedule = "0 * * * * *")]
async fn tick(_tick: ScheduleTick) {}

fn main() {}
