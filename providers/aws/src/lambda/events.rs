//! Lambda event payloads as cloudport inputs: SQS records, S3 notifications (direct or carried
//! by SQS) and EventBridge schedules.

use std::time::{Duration, SystemTime};

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use bytes::Bytes;
use cloudport_core::function::{BlobEvent, BlobEventKind, RawMessage, ScheduleTick};
use cloudport_core::telemetry::TARGET;
use cloudport_core::{BlobKey, ETag, Error, MessageId, Receipt, Result};
use serde::Deserialize;

use crate::sqs_body;

/// A schedule event later than this after its time is past due.
const PAST_DUE_AFTER: Duration = Duration::from_secs(60);

/// The `eventSource` of the records of an SQS event.
const SQS_SOURCE: &str = "aws:sqs";

/// One message of an SQS event, with what settling it needs.
#[derive(Debug)]
pub(super) struct SqsRecord {
    /// The message as handlers see it.
    pub(super) message: RawMessage,
    /// Its receipt handle, for retry delays and dead-lettering.
    #[cfg_attr(not(feature = "sqs"), allow(dead_code, reason = "settling a message calls SQS"))]
    pub(super) receipt: Option<Receipt>,
    /// The queue it came from (`arn:aws:sqs:region:account:name`).
    #[cfg_attr(not(feature = "sqs"), allow(dead_code, reason = "settling a message calls SQS"))]
    pub(super) source_arn: Option<String>,
}

/// Parses an SQS event (`{"Records": [...]}` from an SQS event source mapping).
pub(super) fn sqs_records(payload: &str) -> Result<Vec<SqsRecord>> {
    let event: SqsEvent = serde_json::from_str(payload)
        .map_err(|e| Error::invalid_input(format!("the Lambda payload is not an SQS event: {e}")))?;
    if let Some(other) = event.records.iter().find_map(|r| r.event_source.as_deref().filter(|s| *s != SQS_SOURCE)) {
        return Err(Error::invalid_input(format!(
            "the Lambda payload holds {other} records, not SQS messages (check the function's event source)"
        )));
    }
    event.records.into_iter().map(sqs_record).collect()
}

fn sqs_record(mut record: SqsMessage) -> Result<SqsRecord> {
    let id = record
        .message_id
        .take()
        .ok_or_else(|| Error::invalid_input("an SQS record of the Lambda event has no messageId"))?;
    let delivery_count =
        record.attributes.get("ApproximateReceiveCount").and_then(|n| n.parse::<u32>().ok()).unwrap_or(1);
    let enqueued_at = record
        .attributes
        .get("SentTimestamp")
        .and_then(|ms| ms.parse::<u64>().ok())
        .map_or(SystemTime::UNIX_EPOCH, |ms| SystemTime::UNIX_EPOCH + Duration::from_millis(ms));
    let attributes = record.message_attributes.iter().map(|(name, value)| {
        (name.as_str(), value.string_value.as_deref(), value.binary_value.as_ref().map(|b| b.0.as_slice()))
    });
    let (body, attributes) = sqs_body::received(record.body.take(), attributes);
    let mut message =
        RawMessage::new(MessageId::new(id), body).with_attributes(attributes).with_delivery_count(delivery_count);
    message.enqueued_at = enqueued_at;
    Ok(SqsRecord {
        message,
        receipt: record.receipt_handle.take().map(Receipt::new),
        source_arn: record.event_source_arn.take(),
    })
}

/// Where the default blob store lives, so S3 keys can be made relative to it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct StoreRoot {
    /// The bucket, when the default store is on S3.
    pub(super) bucket: Option<String>,
    /// The store's key prefix: empty, or ending with `/`.
    pub(super) prefix: String,
}

/// What one S3 notification holds for a blob function.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum S3Notification {
    /// Events for the function (keys decoded, relative to the store, under its prefix).
    Events(Vec<BlobEvent>),
    /// The `s3:TestEvent` S3 sends when a notification is configured: nothing to do.
    Test,
}

/// An S3 event notification: only the fields blob events need, and all but the key optional.
/// (aws_lambda_events' `S3Event` requires fields S3-compatible services such as moto leave
/// out, like `userIdentity` and `requestParameters`.)
#[derive(Deserialize)]
struct S3Event {
    #[serde(rename = "Records", default)]
    records: Vec<S3EventRecord>,
}

#[derive(Deserialize)]
struct S3EventRecord {
    #[serde(rename = "eventName")]
    event_name: Option<String>,
    #[serde(rename = "eventTime")]
    event_time: Option<chrono::DateTime<chrono::Utc>>,
    s3: S3Entity,
}

#[derive(Deserialize)]
struct S3Entity {
    bucket: S3Bucket,
    object: S3Object,
}

#[derive(Deserialize)]
struct S3Bucket {
    name: Option<String>,
}

#[derive(Deserialize)]
struct S3Object {
    key: String,
    size: Option<u64>,
    #[serde(rename = "eTag")]
    e_tag: Option<String>,
}

#[derive(Deserialize)]
struct TestEventProbe {
    #[serde(rename = "Event")]
    event: Option<String>,
}

/// Parses an S3 notification (a direct S3 event, or the body of an SQS message S3 sent), and
/// keeps the events of objects in the store under `trigger_prefix`.
pub(super) fn s3_notification(json: &str, root: &StoreRoot, trigger_prefix: &str) -> Result<S3Notification> {
    if serde_json::from_str::<TestEventProbe>(json).is_ok_and(|p| p.event.as_deref() == Some("s3:TestEvent")) {
        return Ok(S3Notification::Test);
    }
    let event: S3Event =
        serde_json::from_str(json).map_err(|e| Error::invalid_input(format!("not an S3 event notification: {e}")))?;
    let events = event.records.into_iter().filter_map(|r| blob_event(r, root, trigger_prefix)).collect();
    Ok(S3Notification::Events(events))
}

/// The blob event of one S3 record, or `None` (logged) when it is not for this function.
fn blob_event(record: S3EventRecord, root: &StoreRoot, trigger_prefix: &str) -> Option<BlobEvent> {
    let name = record.event_name.as_deref().unwrap_or_default();
    let kind = if name.starts_with("ObjectCreated:") {
        BlobEventKind::Created
    } else if name.starts_with("ObjectRemoved:") || name.starts_with("LifecycleExpiration:Delete") {
        BlobEventKind::Deleted
    } else {
        tracing::debug!(target: TARGET, event = name, "ignoring an S3 event that neither creates nor deletes an object");
        return None;
    };
    let bucket = record.s3.bucket.name.unwrap_or_default();
    if root.bucket.as_deref().is_some_and(|b| b != bucket) {
        tracing::warn!(target: TARGET, %bucket, store = ?root.bucket, "ignoring an S3 event of another bucket than the default store's");
        return None;
    }
    let raw_key = record.s3.object.key;
    let Some(decoded) = decode_key(&raw_key) else {
        tracing::warn!(target: TARGET, key = %raw_key, "ignoring an S3 event whose key is not valid URL-encoded UTF-8");
        return None;
    };
    let Some(relative) = decoded.strip_prefix(root.prefix.as_str()) else {
        tracing::debug!(target: TARGET, key = %decoded, prefix = %root.prefix, "ignoring an S3 event outside the store's prefix");
        return None;
    };
    if !relative.starts_with(trigger_prefix) {
        tracing::debug!(target: TARGET, key = %relative, prefix = trigger_prefix, "ignoring an S3 event outside the function's prefix");
        return None;
    }
    let key = match BlobKey::new(relative) {
        Ok(key) => key,
        Err(e) => {
            tracing::warn!(target: TARGET, key = %relative, error = %e, "ignoring an S3 event for a key cloudport cannot name");
            return None;
        }
    };
    let time = record.event_time.map_or_else(SystemTime::now, SystemTime::from);
    let event = match kind {
        BlobEventKind::Deleted => BlobEvent::deleted(bucket, key),
        _ => {
            let size = record.s3.object.size.unwrap_or(0);
            let etag = record.s3.object.e_tag.filter(|t| !t.is_empty()).map(|t| ETag::new(t.trim_matches('"')));
            BlobEvent::created(bucket, key, size, etag)
        }
    };
    Some(event.with_time(time))
}

/// An S3 event key, decoded: S3 encodes keys as HTML form values (`+` for a space, `%XX` for
/// other bytes).
fn decode_key(raw: &str) -> Option<String> {
    let spaced = raw.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced).decode_utf8().ok().map(|k| k.into_owned())
}

/// Whether an SQS message body is an S3 notification (or S3's test event).
pub(super) fn is_s3_notification(body: &Bytes) -> bool {
    #[derive(Deserialize)]
    struct Probe {
        #[serde(rename = "Records", default)]
        records: Vec<RecordProbe>,
        #[serde(rename = "Service")]
        service: Option<String>,
    }
    #[derive(Deserialize)]
    struct RecordProbe {
        #[serde(rename = "eventSource")]
        event_source: Option<String>,
    }
    serde_json::from_slice::<Probe>(body).is_ok_and(|p| {
        p.service.as_deref() == Some("Amazon S3")
            || p.records.first().is_some_and(|r| r.event_source.as_deref() == Some("aws:s3"))
    })
}

/// Which kind of event a blob function was sent.
pub(super) enum BlobPayload {
    /// S3 invoked the function directly.
    Direct(S3Notification),
    /// An SQS event source delivered S3 notifications S3 sent to the queue.
    ViaSqs(Vec<SqsRecord>),
}

/// Tells a direct S3 event from an SQS event carrying S3 notifications.
pub(super) fn blob_payload(payload: &str, root: &StoreRoot, trigger_prefix: &str) -> Result<BlobPayload> {
    #[derive(Deserialize)]
    struct Probe {
        #[serde(rename = "Records", default)]
        records: Vec<RecordProbe>,
    }
    #[derive(Deserialize)]
    struct RecordProbe {
        #[serde(rename = "eventSource", alias = "EventSource")]
        event_source: Option<String>,
    }
    let probe: Probe = serde_json::from_str(payload)
        .map_err(|e| Error::invalid_input(format!("the Lambda payload is not an S3 or SQS event: {e}")))?;
    match probe.records.first().and_then(|r| r.event_source.as_deref()) {
        Some(SQS_SOURCE) => Ok(BlobPayload::ViaSqs(sqs_records(payload)?)),
        _ => Ok(BlobPayload::Direct(s3_notification(payload, root, trigger_prefix)?)),
    }
}

/// The tick of a scheduled invocation: an EventBridge `Scheduled Event` (its `time` is the
/// scheduled time), or an empty payload (`{}` or `null`, as from EventBridge Scheduler or a
/// manual invoke), which fires now.
pub(super) fn schedule_tick(payload: &str, expression: &str, now: SystemTime) -> Result<ScheduleTick> {
    #[derive(Deserialize)]
    struct Scheduled {
        #[serde(rename = "detail-type")]
        detail_type: Option<String>,
        time: Option<chrono::DateTime<chrono::Utc>>,
    }
    let trimmed = payload.trim();
    if matches!(trimmed, "{}" | "null" | "") {
        return Ok(ScheduleTick::new(expression, now, now, false));
    }
    let event: Scheduled = serde_json::from_str(trimmed)
        .map_err(|e| Error::invalid_input(format!("the Lambda payload is not an EventBridge scheduled event: {e}")))?;
    let Some(time) = event.time.filter(|_| event.detail_type.as_deref() == Some("Scheduled Event")) else {
        return Err(Error::invalid_input(
            "the Lambda payload is not an EventBridge scheduled event (no \"detail-type\": \"Scheduled Event\" with a time)",
        ));
    };
    let scheduled_at = SystemTime::from(time);
    let late = now.duration_since(scheduled_at).unwrap_or_default();
    Ok(ScheduleTick::new(expression, scheduled_at, now, late > PAST_DUE_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SQS_EVENT: &str = r#"{"Records":[
        {"messageId":"m1","receiptHandle":"r1","body":"{\"key\":\"a\"}","attributes":{"ApproximateReceiveCount":"3","SentTimestamp":"1700000000000"},
         "messageAttributes":{"traceparent":{"stringValue":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01","dataType":"String"}},
         "md5OfBody":"x","eventSource":"aws:sqs","eventSourceARN":"arn:aws:sqs:us-east-1:123456789012:jobs","awsRegion":"us-east-1"},
        {"messageId":"m2","receiptHandle":"r2","body":"(cloudport: body in attribute cloudport.body)","attributes":{},
         "messageAttributes":{"cloudport.body":{"binaryValue":"AAH/","dataType":"Binary"}},
         "eventSource":"aws:sqs","eventSourceARN":"arn:aws:sqs:us-east-1:123456789012:jobs"}]}"#;

    #[test]
    fn sqs_records_become_raw_messages() {
        let records = sqs_records(SQS_EVENT).unwrap();
        assert_eq!(records.len(), 2);
        let first = &records[0];
        assert_eq!(first.message.id.as_str(), "m1");
        assert_eq!(&first.message.body[..], br#"{"key":"a"}"#);
        assert_eq!(first.message.delivery_count, 3);
        assert_eq!(first.message.enqueued_at, SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000));
        assert!(first.message.attributes["traceparent"].starts_with("00-0af7"));
        assert_eq!(first.receipt.as_ref().unwrap().as_str(), "r1");
        assert_eq!(first.source_arn.as_deref(), Some("arn:aws:sqs:us-east-1:123456789012:jobs"));
        // A binary body comes back from cloudport's body attribute, which handlers never see.
        assert_eq!(&records[1].message.body[..], &[0u8, 1, 255]);
        assert!(records[1].message.attributes.is_empty());
    }

    #[test]
    fn other_events_are_not_taken_for_sqs() {
        let err = sqs_records(r#"{"Records":[{"eventSource":"aws:s3","messageId":"x"}]}"#).unwrap_err();
        assert!(err.to_string().contains("aws:s3 records"), "{err}");
        assert!(sqs_records(r#"{"hello":"world"}"#).is_err());
    }

    fn s3_event(name: &str, key: &str) -> String {
        format!(
            r#"{{"Records":[{{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1","eventTime":"2024-05-01T12:00:00.000Z",
            "eventName":"{name}","userIdentity":{{"principalId":"x"}},"requestParameters":{{"sourceIPAddress":"127.0.0.1"}},"responseElements":{{}},
            "s3":{{"s3SchemaVersion":"1.0","configurationId":"c","bucket":{{"name":"data","arn":"arn:aws:s3:::data"}},
            "object":{{"key":"{key}","size":42,"eTag":"0123abcd","sequencer":"01"}}}}}}]}}"#
        )
    }

    fn events(json: &str, root: &StoreRoot, prefix: &str) -> Vec<BlobEvent> {
        match s3_notification(json, root, prefix).unwrap() {
            S3Notification::Events(events) => events,
            S3Notification::Test => panic!("not a test event"),
        }
    }

    #[test]
    fn s3_keys_are_decoded_and_made_relative_to_the_store() {
        let root = StoreRoot { bucket: Some("data".into()), prefix: "app/".into() };
        let got = events(&s3_event("ObjectCreated:Put", "app/uploads/a+b%2Bc%C3%A9.txt"), &root, "uploads/");
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].key.as_str(), "uploads/a b+cé.txt");
        assert_eq!(got[0].kind, BlobEventKind::Created);
        assert_eq!(got[0].size, Some(42));
        assert_eq!(got[0].etag.as_ref().map(ETag::as_str), Some("0123abcd"));
        assert_eq!(got[0].store, "data");
        let deleted = events(&s3_event("ObjectRemoved:Delete", "app/uploads/x"), &root, "uploads/");
        assert_eq!(deleted[0].kind, BlobEventKind::Deleted);
    }

    #[test]
    fn events_for_other_stores_or_prefixes_are_left_out() {
        let root = StoreRoot { bucket: Some("data".into()), prefix: "app/".into() };
        assert!(events(&s3_event("ObjectCreated:Put", "other/uploads/x"), &root, "uploads/").is_empty());
        assert!(events(&s3_event("ObjectCreated:Put", "app/results/x"), &root, "uploads/").is_empty());
        assert!(events(&s3_event("ObjectRestore:Completed", "app/uploads/x"), &root, "uploads/").is_empty());
        let elsewhere = StoreRoot { bucket: Some("elsewhere".into()), prefix: String::new() };
        assert!(events(&s3_event("ObjectCreated:Put", "uploads/x"), &elsewhere, "").is_empty());
        assert!(events(&s3_event("ObjectCreated:Put", "bad//key"), &StoreRoot::default(), "").is_empty());
    }

    #[test]
    fn sparse_records_of_s3_compatible_services_are_read() {
        // moto's record: no userIdentity, requestParameters, responseElements or sequencer.
        let moto = r#"{"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1", "eventTime": "2026-11-23T17:45:43.947Z", "eventName": "ObjectCreated:Put", "s3": {"s3SchemaVersion": "1.0", "configurationId": "c", "bucket": {"name": "dbg1", "arn": "arn:aws:s3:::dbg1"}, "object": {"key": "in%2Fa+b%2Bc+%C3%A9.txt", "size": 5, "eTag": "5d41402abc4b2a76b9719d911017c592"}}}]}"#;
        let got = events(moto, &StoreRoot::default(), "in/");
        assert_eq!(got[0].key.as_str(), "in/a b+c é.txt");
    }

    #[test]
    fn the_s3_test_event_is_recognized() {
        let test = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2024-05-01T12:00:00.000Z","Bucket":"data","RequestId":"r","HostId":"h"}"#;
        assert_eq!(s3_notification(test, &StoreRoot::default(), "").unwrap(), S3Notification::Test);
        assert!(is_s3_notification(&Bytes::from_static(test.as_bytes())));
        assert!(is_s3_notification(&Bytes::from(s3_event("ObjectCreated:Put", "k"))));
        assert!(!is_s3_notification(&Bytes::from_static(br#"{"key":"uploads/a"}"#)));
    }

    #[test]
    fn blob_payloads_come_direct_or_through_sqs() {
        let direct = s3_event("ObjectCreated:Put", "k");
        assert!(matches!(blob_payload(&direct, &StoreRoot::default(), "").unwrap(), BlobPayload::Direct(_)));
        assert!(
            matches!(blob_payload(SQS_EVENT, &StoreRoot::default(), "").unwrap(), BlobPayload::ViaSqs(r) if r.len() == 2)
        );
    }

    #[test]
    fn scheduled_events_carry_their_time() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_714_564_900);
        let event = r#"{"version":"0","id":"x","detail-type":"Scheduled Event","source":"aws.events","account":"1","time":"2024-05-01T12:00:00Z","region":"us-east-1","resources":[],"detail":{}}"#;
        let tick = schedule_tick(event, "0 0 12 * * *", now).unwrap();
        assert_eq!(tick.scheduled_at, SystemTime::UNIX_EPOCH + Duration::from_secs(1_714_564_800));
        assert!(tick.past_due, "100 s late");
        assert_eq!(tick.schedule, "0 0 12 * * *");
        let manual = schedule_tick("{}", "0 0 12 * * *", now).unwrap();
        assert_eq!((manual.scheduled_at, manual.past_due), (now, false));
        assert!(schedule_tick(r#"{"detail-type":"Object Created","time":"2024-05-01T12:00:00Z"}"#, "x", now).is_err());
    }
}
