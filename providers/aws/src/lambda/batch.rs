//! Settling an SQS batch the Lambda way: a partial batch response (`batchItemFailures`) for
//! messages to retry, a visibility change for retry delays, and the dead-letter queue for
//! messages the handler gave up on. The last two call SQS, so they need the `sqs` feature;
//! without it (a blob function fed by SQS, say) such messages are reported as failures, with a
//! warning, and the queue's visibility timeout and redrive policy apply.

use std::collections::HashMap;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse};
use cloudport_core::function::{BatchOutcome, MessageOutcome};
use cloudport_core::telemetry::TARGET;
use cloudport_core::{MessageId, Result};

use super::events::SqsRecord;
use crate::config::AwsOptions;
#[cfg(feature = "sqs")]
use crate::sqs::SqsQueue;
#[cfg(feature = "sqs")]
use cloudport_core::{Error, Queue};
#[cfg(feature = "sqs")]
use std::sync::{Mutex, PoisonError};

/// The queues SQS events came from, by ARN, opened once per execution environment.
#[derive(Debug, Default)]
pub(super) struct SourceQueues {
    #[cfg(feature = "sqs")]
    queues: Mutex<HashMap<String, SqsQueue>>,
}

#[cfg(feature = "sqs")]
impl SourceQueues {
    /// The queue of `arn` (`arn:aws:sqs:<region>:<account>:<name>`), in its region.
    fn queue(&self, arn: &str, aws: &AwsOptions) -> Result<SqsQueue> {
        let mut queues = self.queues.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(queue) = queues.get(arn) {
            return Ok(queue.clone());
        }
        let parts: Vec<&str> = arn.split(':').collect();
        let [_arn, _partition, "sqs", region, _account, name] = parts[..] else {
            return Err(Error::invalid_input(format!("{arn:?} is not an SQS queue ARN")));
        };
        let queue = SqsQueue::builder(name).aws(aws.clone().region(region)).build()?;
        queues.insert(arn.to_owned(), queue.clone());
        Ok(queue)
    }
}

/// Applies `outcome` to `records` and returns the reply for Lambda: acked messages are left
/// for the event source mapping to delete; retried ones are reported as failures (after their
/// visibility is set to the retry delay, when there is one); dead-lettered ones are sent to the
/// queue's dead-letter queue and deleted, or reported as failures when that fails, so the
/// queue's redrive policy still catches them.
pub(super) async fn settle(
    records: &[SqsRecord],
    outcome: &BatchOutcome,
    queues: &SourceQueues,
    aws: &AwsOptions,
) -> SqsBatchResponse {
    let by_id: HashMap<&MessageId, &SqsRecord> = records.iter().map(|r| (&r.message.id, r)).collect();
    let mut response = SqsBatchResponse::default();
    for (id, what) in outcome.failures() {
        let Some(record) = by_id.get(id) else {
            tracing::warn!(target: TARGET, message = id.as_str(), "the handler settled a message that is not in the batch");
            continue;
        };
        let settled = match what {
            MessageOutcome::Retry { delay: Some(delay) } => {
                if let Err(e) = retry_after(record, *delay, queues, aws).await {
                    tracing::warn!(target: TARGET, message = id.as_str(), error = %e, "could not delay the retry; the queue's visibility timeout applies");
                }
                false
            }
            MessageOutcome::DeadLetter { reason } => match dead_letter(record, reason, queues, aws).await {
                Ok(()) => true,
                Err(e) => {
                    tracing::error!(target: TARGET, message = id.as_str(), error = %e, "could not dead-letter the message; it stays in the queue for the redrive policy");
                    false
                }
            },
            _ => false,
        };
        if !settled {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id.as_str().to_owned();
            response.batch_item_failures.push(failure);
        }
    }
    response
}

#[cfg(feature = "sqs")]
fn source(record: &SqsRecord, queues: &SourceQueues, aws: &AwsOptions) -> Result<(SqsQueue, cloudport_core::Receipt)> {
    let arn = record
        .source_arn
        .as_deref()
        .ok_or_else(|| Error::invalid_input("the SQS record does not name its queue (eventSourceARN)"))?;
    let receipt = record.receipt.clone().ok_or_else(|| Error::invalid_input("the SQS record has no receipt handle"))?;
    Ok((queues.queue(arn, aws)?, receipt))
}

#[cfg(feature = "sqs")]
async fn retry_after(
    record: &SqsRecord,
    delay: std::time::Duration,
    queues: &SourceQueues,
    aws: &AwsOptions,
) -> Result<()> {
    let (queue, receipt) = source(record, queues, aws)?;
    let delay = delay.min(queue.capabilities().max_nack_delay);
    queue.nack(&receipt, delay).await
}

#[cfg(feature = "sqs")]
async fn dead_letter(record: &SqsRecord, reason: &str, queues: &SourceQueues, aws: &AwsOptions) -> Result<()> {
    let (queue, receipt) = source(record, queues, aws)?;
    let message = &record.message;
    queue.move_to_dead_letter(&receipt, message.body.clone(), message.attributes.clone(), reason).await
}

#[cfg(not(feature = "sqs"))]
async fn retry_after(_: &SqsRecord, _: std::time::Duration, _: &SourceQueues, _: &AwsOptions) -> Result<()> {
    Err(sqs_disabled("delay a retry"))
}

#[cfg(not(feature = "sqs"))]
async fn dead_letter(_: &SqsRecord, _: &str, _: &SourceQueues, _: &AwsOptions) -> Result<()> {
    Err(sqs_disabled("dead-letter a message"))
}

#[cfg(not(feature = "sqs"))]
fn sqs_disabled(what: &str) -> cloudport_core::Error {
    cloudport_core::Error::config(format!(
        "to {what} the Lambda host calls SQS, which needs cloudport's `aws-sqs` feature (cloudport-aws's `sqs`)"
    ))
}

#[cfg(all(test, feature = "sqs"))]
mod tests {
    use super::*;

    #[test]
    fn queue_arns_are_parsed() {
        let queues = SourceQueues::default();
        let aws = AwsOptions::new();
        let queue = queues.queue("arn:aws:sqs:eu-west-1:123456789012:jobs", &aws).unwrap();
        assert_eq!(queue.name(), "jobs");
        assert!(queues.queue("arn:aws:sns:eu-west-1:1:topic", &aws).is_err());
        assert!(queues.queue("jobs", &aws).is_err());
    }
}
