use cloudport::Error;
use cloudport::function::{Context, Input, Invocation, Output, Trigger, TriggerKind};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
struct Add {
    a: i64,
    b: i64,
}

#[derive(Serialize)]
struct Sum {
    sum: i64,
}

#[cloudport::function]
async fn add(args: Add) -> Result<Sum, Error> {
    Ok(Sum { sum: args.a + args.b })
}

/// A raw identifier is named without its `r#`; a `_` pattern and `()` input are fine.
#[cloudport::function(timeout = "5s")]
async fn r#loop(_: (), ctx: Context) -> Result<String, Error> {
    Ok(ctx.function_name().to_owned())
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let f = add::function();
    assert_eq!((f.name(), f.trigger()), ("add", &Trigger::Invoke));
    let input = Input::Json(r#"{"a": 2, "b": 40}"#.into());
    let output = f.call(Invocation::new(input, Context::new("add", TriggerKind::Invoke))).await.unwrap();
    let Output::Json(json) = output else { panic!("expected json") };
    assert_eq!(&json[..], br#"{"sum":42}"#);

    assert_eq!(r#loop::function().name(), "loop");
}
