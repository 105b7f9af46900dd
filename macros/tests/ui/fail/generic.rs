use cloudport::Error;
use serde::de::DeserializeOwned;

#[cloudport::function]
async fn echo<T: DeserializeOwned>(input: T) -> Result<T, Error> {
    Ok(input)
}

fn main() {}
