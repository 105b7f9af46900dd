//! Finding (or creating) a queue, its dead-letter queue and its redrive policy.

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::QueueAttributeName;
use cloudport_core::{DeadLetterPolicy, Error, ErrorKind, Result};
use serde_json::json;

use crate::error::map_sdk_error;

/// A queue's URL and, when it has a redrive policy, where its dead letters go.
#[derive(Debug)]
pub(super) struct Resolved {
    pub(super) client: Client,
    pub(super) url: String,
    pub(super) dead_letter: Option<String>,
}

/// What to open: a queue by name, created (with its dead-letter queue and redrive policy) when
/// `create` is set.
pub(super) struct Target<'a> {
    pub(super) name: &'a str,
    pub(super) create: bool,
    pub(super) dead_letter: Option<&'a DeadLetterPolicy>,
}

pub(super) async fn resolve(client: Client, target: Target<'_>) -> Result<Resolved> {
    let url = queue_url(&client, target.name, target.create).await?;
    let configured = redrive_target(&client, &url).await?;
    let dead_letter = match (target.dead_letter, configured) {
        (None, None) => None,
        // A redrive policy set outside cloudport: dead_letter() sends where SQS would.
        (None, Some((arn, _))) => Some(queue_url(&client, name_of_arn(&arn), false).await?),
        (Some(policy), configured) => {
            let dlq_url = queue_url(&client, &policy.queue, target.create).await?;
            let dlq_arn = queue_arn(&client, &dlq_url).await?;
            let wanted = (dlq_arn.clone(), policy.max_deliveries);
            if configured.as_ref() != Some(&wanted) {
                if !target.create {
                    return Err(Error::config(format!(
                        "SQS queue {} does not dead-letter to {} after {} deliveries (its redrive policy is {configured:?}): set that policy, or add create=true to the sqs:// URL to let cloudport set it",
                        target.name, policy.queue, policy.max_deliveries
                    )));
                }
                let redrive = json!({ "deadLetterTargetArn": dlq_arn, "maxReceiveCount": policy.max_deliveries });
                client
                    .set_queue_attributes()
                    .queue_url(&url)
                    .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
                    .send()
                    .await
                    .map_err(map_sdk_error)?;
            }
            Some(dlq_url)
        }
    };
    Ok(Resolved { client, url, dead_letter })
}

async fn queue_url(client: &Client, name: &str, create: bool) -> Result<String> {
    let found = client.get_queue_url().queue_name(name).send().await.map_err(map_sdk_error);
    let url = match found {
        Ok(out) => out.queue_url,
        Err(e) if e.kind() == ErrorKind::NotFound && create => {
            client.create_queue().queue_name(name).send().await.map_err(map_sdk_error)?.queue_url
        }
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Err(Error::new(
                ErrorKind::NotFound,
                format!("SQS queue {name:?} does not exist (create it, or add create=true to the sqs:// URL)"),
            )
            .with_source(e));
        }
        Err(e) => return Err(e),
    };
    url.ok_or_else(|| Error::new(ErrorKind::Other, format!("SQS answered without the URL of queue {name:?}")))
}

async fn queue_arn(client: &Client, url: &str) -> Result<String> {
    let out = client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(map_sdk_error)?;
    out.attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .cloned()
        .ok_or_else(|| Error::new(ErrorKind::Other, format!("SQS answered without the ARN of {url}")))
}

/// The queue's redrive policy: dead-letter queue ARN and receive count.
async fn redrive_target(client: &Client, url: &str) -> Result<Option<(String, u32)>> {
    let out = client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::RedrivePolicy)
        .send()
        .await
        .map_err(map_sdk_error)?;
    let Some(raw) = out.attributes().and_then(|a| a.get(&QueueAttributeName::RedrivePolicy)) else {
        return Ok(None);
    };
    let policy: serde_json::Value = serde_json::from_str(raw).map_err(|e| {
        Error::new(ErrorKind::Other, format!("the redrive policy of {url} is not JSON: {raw}")).with_source(e)
    })?;
    let arn = policy["deadLetterTargetArn"].as_str();
    // SQS has sent maxReceiveCount both as a number and as a string.
    let count = match &policy["maxReceiveCount"] {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.parse().ok(),
        _ => None,
    };
    Ok(arn.zip(count).map(|(arn, count)| (arn.to_owned(), u32::try_from(count).unwrap_or(u32::MAX))))
}

/// `arn:aws:sqs:region:account:name` → `name`.
fn name_of_arn(arn: &str) -> &str {
    arn.rsplit(':').next().unwrap_or(arn)
}

#[cfg(test)]
mod tests {
    #[test]
    fn arn_names() {
        assert_eq!(super::name_of_arn("arn:aws:sqs:us-east-1:123456789012:jobs-dlq"), "jobs-dlq");
    }
}
