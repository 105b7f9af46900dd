//! The handler adapters and `Function::call`, exercised without any host.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use serde::Deserialize;

use super::*;
use crate::error::{Error, ErrorKind, Result};
use crate::queue::MessageId;

fn ctx(trigger: TriggerKind) -> Context {
    Context::new("f", trigger)
}

async fn call(function: &Function, input: Input) -> Result<Output> {
    let trigger = input.kind();
    function.call(Invocation::new(input, ctx(trigger))).await
}

fn raw(id: &str, body: &str) -> RawMessage {
    RawMessage::new(MessageId::new(id), body.to_owned())
}

#[derive(Debug, Deserialize)]
struct Job {
    n: u32,
}

#[tokio::test]
async fn queue_outcomes_merge_per_message() {
    async fn work(batch: QueueBatch<Job>) -> Result<BatchOutcome> {
        let mut outcome = BatchOutcome::ack_all();
        for m in &batch {
            match m.body.n {
                1 => {}
                2 => {
                    outcome.retry(&m.id, Some(Duration::from_secs(7)));
                }
                _ => {
                    outcome.dead_letter(&m.id, "n too large");
                }
            }
        }
        Ok(outcome)
    }
    let f = Function::queue("work", "jobs", work);
    let input =
        Input::Queue(vec![raw("a", r#"{"n":1}"#), raw("b", r#"{"n":2}"#), raw("c", r#"{"n":3}"#), raw("d", "{")]);
    let Output::Batch(outcome) = call(&f, input).await.unwrap() else { panic!("not a batch") };
    assert_eq!(outcome.outcome_of(&MessageId::new("a")), &MessageOutcome::Ack);
    assert_eq!(
        outcome.outcome_of(&MessageId::new("b")),
        &MessageOutcome::Retry { delay: Some(Duration::from_secs(7)) }
    );
    assert_eq!(outcome.outcome_of(&MessageId::new("c")), &MessageOutcome::DeadLetter { reason: "n too large".into() });
    let MessageOutcome::DeadLetter { reason } = outcome.outcome_of(&MessageId::new("d")) else {
        panic!("undecodable message must be dead-lettered")
    };
    assert!(reason.contains("does not decode"), "{reason}");
}

#[tokio::test]
async fn a_failing_batch_retries_every_decoded_message() {
    async fn work(_batch: QueueBatch<Job>, _ctx: Context) -> Result<()> {
        Err(Error::new(ErrorKind::Throttled, "downstream busy").with_retry_after(Duration::from_secs(3)))
    }
    let f = Function::queue("work", "jobs", work);
    let input = Input::Queue(vec![raw("a", r#"{"n":1}"#), raw("bad", "not json")]);
    let Output::Batch(outcome) = call(&f, input).await.unwrap() else { panic!("not a batch") };
    assert_eq!(
        outcome.outcome_of(&MessageId::new("a")),
        &MessageOutcome::Retry { delay: Some(Duration::from_secs(3)) }
    );
    assert!(matches!(outcome.outcome_of(&MessageId::new("bad")), MessageOutcome::DeadLetter { .. }));
}

#[tokio::test]
async fn a_panic_fails_only_its_invocation() {
    async fn flaky(n: u32) -> Result<u32> {
        assert!(n != 13, "unlucky number");
        Ok(n)
    }
    let f = Function::json("flaky", flaky);
    let err = call(&f, Input::Json(Bytes::from_static(b"13"))).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Other);
    assert!(err.to_string().contains("panicked: unlucky number"), "{err}");
    assert!(is_panic(&err));
    assert!(!is_panic(&Error::new(ErrorKind::Other, "function \"x\" panicked: not really")));
    let Output::Json(out) = call(&f, Input::Json(Bytes::from_static(b"12"))).await.unwrap() else { panic!() };
    assert_eq!(&out[..], b"12");
}

#[tokio::test]
async fn the_deadline_bounds_an_invocation() {
    async fn slow(_: ()) -> Result<()> {
        tokio::time::sleep(Duration::from_secs(60)).await;
        Ok(())
    }
    let f = Function::json("slow", slow).with_timeout(Duration::from_millis(20));
    let err = call(&f, Input::Json(Bytes::from_static(b"null"))).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    let ctx = ctx(TriggerKind::Invoke).with_timeout(Duration::from_millis(10));
    let err = Function::json("slow", slow)
        .call(Invocation::new(Input::Json(Bytes::from_static(b"null")), ctx))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
}

#[tokio::test]
async fn wrong_inputs_are_invalid_not_panics() {
    async fn hello(_req: HttpRequest) -> Result<http::StatusCode> {
        Ok(http::StatusCode::NO_CONTENT)
    }
    let f = Function::http("hello", hello);
    let err = call(&f, Input::Json(Bytes::new())).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("takes http requests"), "{err}");
    let Output::Http(res) = call(&f, Input::Http(HttpRequest::new(Bytes::new()))).await.unwrap() else { panic!() };
    assert_eq!(res.status(), http::StatusCode::NO_CONTENT);

    async fn add(pair: (i32, i32)) -> Result<i32> {
        Ok(pair.0 + pair.1)
    }
    let err = call(&Function::json("add", add), Input::Json(Bytes::from_static(b"{}"))).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("does not decode"), "{err}");
}

#[tokio::test]
async fn tower_services_and_layers_compose() {
    let echo = tower::service_fn(|req: http::Request<ServiceBody>| async move {
        Ok::<_, std::convert::Infallible>(http::Response::new(req.into_body()))
    });
    let f = Function::http_service("echo", echo);
    let req = HttpRequest::new(Bytes::from_static(b"ping"));
    let Output::Http(res) = call(&f, Input::Http(req)).await.unwrap() else { panic!() };
    assert_eq!(&res.body()[..], b"ping");

    async fn slow(_: ()) -> Result<()> {
        tokio::time::sleep(Duration::from_secs(60)).await;
        Ok(())
    }
    let f = Function::json("slow", slow).layer(tower::timeout::TimeoutLayer::new(Duration::from_millis(10)));
    let err = call(&f, Input::Json(Bytes::from_static(b"null"))).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err:?}");
}

#[test]
fn error_payloads_keep_every_kind() {
    for kind in ErrorKind::ALL {
        let payload = ErrorPayload::from_error(&Error::new(kind, "boom"));
        let json = serde_json::to_string(&payload).unwrap();
        let back: ErrorPayload = serde_json::from_str(&json).unwrap();
        assert_eq!(back.into_error().kind(), kind, "{json}");
    }
    let foreign = ErrorPayload { error_type: "Runtime.ExitError".into(), error_message: "exit 1".into() };
    let err = foreign.into_error();
    assert_eq!(err.kind(), ErrorKind::Other);
    assert!(err.to_string().contains("Runtime.ExitError: exit 1"), "{err}");
}

#[derive(Debug)]
struct Recorder(std::sync::Mutex<Vec<(String, Bytes, TraceContext)>>);

#[async_trait]
impl Invoker for Recorder {
    async fn invoke(&self, function: &str, payload: Bytes, trace: TraceContext) -> Result<Bytes> {
        self.0.lock().unwrap().push((function.to_owned(), payload, trace));
        Ok(Bytes::from_static(br#"{"sum":3}"#))
    }

    async fn invoke_async(&self, function: &str, payload: Bytes, trace: TraceContext) -> Result<()> {
        self.0.lock().unwrap().push((function.to_owned(), payload, trace));
        Ok(())
    }
}

#[tokio::test]
async fn context_invokes_by_name_in_the_same_trace() {
    #[derive(Deserialize)]
    struct Sum {
        sum: i32,
    }
    let recorder = Arc::new(Recorder(std::sync::Mutex::default()));
    let ctx = ctx(TriggerKind::Http).with_invoker(recorder.clone());
    let sum: Sum = ctx.invoke("add", &(1, 2)).await.unwrap();
    assert_eq!(sum.sum, 3);
    ctx.invoke_async("audit", &"added").await.unwrap();
    let calls = recorder.0.lock().unwrap();
    assert_eq!(calls[0].0, "add");
    assert_eq!(&calls[0].1[..], b"[1,2]");
    assert_eq!(calls[1].0, "audit");
    for (_, _, trace) in calls.iter() {
        assert_eq!(trace.trace_id(), ctx.trace().trace_id());
        assert_ne!(trace.span_id(), ctx.trace().span_id());
    }
}

#[test]
fn names_must_be_portable_and_unique() {
    async fn f(_: ()) -> Result<()> {
        Ok(())
    }
    assert!(registry::collect([Function::json("ok_name-1", f)]).is_ok());
    for bad in ["", "1st", "has space", "dots.are.out", &"x".repeat(65)] {
        let err = registry::collect([Function::json(bad, f)]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config, "{bad}");
    }
    let err = registry::collect([Function::json("twin", f), Function::json("twin", f)]).unwrap_err();
    assert!(err.to_string().contains("two functions are named \"twin\""), "{err}");
}

#[test]
fn resources_name_the_variable_to_set() {
    let err = Resources::empty().queue("resize-jobs").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(is_not_configured(&err));
    assert!(!is_not_configured(&Error::config("queue URL is malformed")));
    assert!(err.to_string().contains("CLOUDPORT_QUEUE_URL_RESIZE_JOBS"), "{err}");
    let err = Resources::empty().blob_store(DEFAULT_STORE).unwrap_err();
    assert!(err.to_string().contains("set CLOUDPORT_BLOB_URL "), "{err}");
}
