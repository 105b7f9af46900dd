use cloudport::Error;
use cloudport::function::{Context, Schedule, ScheduleTick, Trigger};

#[cloudport::function(schedule = "0 */5 * * * *")]
async fn every_five_minutes(_tick: ScheduleTick) -> Result<(), Error> {
    Ok(())
}

#[cloudport::function(schedule = "0 0 9 * * Mon-Fri 2030", name = "weekday-mornings", timeout = "10s")]
async fn mornings(tick: ScheduleTick, _ctx: Context) -> Result<(), Error> {
    let _ = tick.scheduled_at;
    Ok(())
}

fn main() {
    let f = every_five_minutes::function();
    assert_eq!(f.trigger(), &Trigger::Schedule(Schedule::parse("0 */5 * * * *").unwrap()));
    let f = mornings::function();
    assert_eq!(f.name(), "weekday-mornings");
    assert_eq!(f.trigger(), &Trigger::Schedule(Schedule::parse("0 0 9 * * Mon-Fri 2030").unwrap()));
}
