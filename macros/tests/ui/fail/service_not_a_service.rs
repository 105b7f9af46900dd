#[cloudport::function(http, service)]
fn api() -> String {
    String::new()
}

fn main() {}
