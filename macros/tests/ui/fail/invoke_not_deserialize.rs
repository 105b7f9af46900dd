use cloudport::Error;

struct Args {
    a: i64,
}

#[cloudport::function]
async fn add(args: Args) -> Result<i64, Error> {
    Ok(args.a)
}

fn main() {}
