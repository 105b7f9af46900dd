//! Names in the template: logical ids, the physical names of functions and queues (prefixed
//! with the stack's name), their limits, and the intrinsic functions that build them.

use cloudport_core::{Error, Result};
use serde_json::{Value, json};

/// The bucket's logical id. SAM's S3 events need a `Ref` to a bucket of the same template.
pub(super) const BUCKET: &str = "Bucket";
/// The parameter holding the bucket's name. Functions name the bucket through it, never
/// through the bucket resource: the bucket's notifications depend on the functions, so a
/// function depending on the bucket would be a cycle.
pub(super) const BUCKET_PARAMETER: &str = "BucketName";
/// The HTTP API SAM creates for `HttpApi` events without an `ApiId`.
pub(super) const HTTP_API: &str = "ServerlessHttpApi";

/// Lambda's longest function name.
pub(super) const MAX_LAMBDA_NAME: usize = 64;
/// SQS's longest queue name.
pub(super) const MAX_QUEUE_NAME: usize = 80;
/// What the dead-letter queue of `<queue>` is called: `<queue>-dlq`.
pub(super) const DEAD_LETTER_SUFFIX: &str = "-dlq";

/// `count_words` → `CountWords`: the ASCII letters and digits of `name`, each part between
/// `_` and `-` starting with a capital.
pub(super) fn pascal_case(name: &str) -> String {
    name.split(['_', '-'])
        .flat_map(|part| {
            let mut chars = part.chars().filter(char::is_ascii_alphanumeric);
            let first = chars.next().map(|c| c.to_ascii_uppercase());
            first.into_iter().chain(chars)
        })
        .collect()
}

/// The logical id of the function called `name`: `CountWordsFunction`.
pub(super) fn function_id(name: &str) -> String {
    format!("{}Function", pascal_case(name))
}

/// The logical id of the queue called `name`: `JobsQueue`.
pub(super) fn queue_id(name: &str) -> String {
    format!("{}Queue", pascal_case(name))
}

/// The logical id of the dead-letter queue of the queue called `name`: `JobsDeadLetterQueue`.
pub(super) fn dead_letter_id(name: &str) -> String {
    format!("{}DeadLetterQueue", pascal_case(name))
}

/// `{"Ref": id}`.
pub(super) fn reference(id: &str) -> Value {
    json!({ "Ref": id })
}

/// `{"Fn::GetAtt": [id, attribute]}`.
pub(super) fn get_att(id: &str, attribute: &str) -> Value {
    json!({ "Fn::GetAtt": [id, attribute] })
}

/// `{"Fn::Sub": text}`.
pub(super) fn sub(text: &str) -> Value {
    json!({ "Fn::Sub": text })
}

/// `<stack>-<name>`, the physical name of a function or queue.
pub(super) fn stack_scoped(name: &str) -> Value {
    sub(&format!("${{AWS::StackName}}-{name}"))
}

/// The ARN of the function called `name` in this stack, built from names (a `GetAtt` on the
/// function would make the caller depend on it, and two functions invoking each other a cycle).
pub(super) fn function_arn(name: &str) -> Value {
    sub(&format!(
        "arn:${{AWS::Partition}}:lambda:${{AWS::Region}}:${{AWS::AccountId}}:function:${{AWS::StackName}}-{name}"
    ))
}

/// How long the stack's name may be: known, or the shortest possible.
#[derive(Debug, Clone, Copy)]
pub(super) struct Stack<'a> {
    name: Option<&'a str>,
}

impl<'a> Stack<'a> {
    pub(super) fn new(name: Option<&'a str>) -> Self {
        Self { name }
    }

    /// Checks that `<stack>-<name>` fits in `limit` characters.
    pub(super) fn check(&self, what: &str, name: &str, limit: usize, service: &str) -> Result<()> {
        let len = self.name.map_or(1, str::len) + 1 + name.len();
        if len <= limit {
            return Ok(());
        }
        Err(Error::config(match self.name {
            Some(stack) => format!(
                "{what} gets the {service} name \"{stack}-{name}\" ({len} characters), over {service}'s limit of {limit} (shorten the name or the stack name)"
            ),
            None => format!(
                "{what} gets the {service} name \"<stack>-{name}\", over {service}'s limit of {limit} characters even with a one-character stack name (shorten the name)"
            ),
        }))
    }
}

/// Checks that a queue's name can be part of an SQS queue name.
pub(super) fn check_queue_name(queue: &str) -> Result<()> {
    if !queue.is_empty() && queue.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Ok(());
    }
    Err(Error::config(format!(
        "queue name {queue:?} cannot be part of an SQS queue name (use ASCII letters, digits, `-` and `_`)"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logical_ids_are_pascal_case() {
        assert_eq!(function_id("count_words"), "CountWordsFunction");
        assert_eq!(function_id("resize-2x"), "Resize2xFunction");
        assert_eq!(function_id("upload"), "UploadFunction");
        assert_eq!(function_id("getHTTP"), "GetHTTPFunction");
        assert_eq!(queue_id("jobs"), "JobsQueue");
        assert_eq!(dead_letter_id("resize_jobs"), "ResizeJobsDeadLetterQueue");
    }

    #[test]
    fn physical_names_are_checked_against_the_stack() {
        let name = "a".repeat(62);
        assert!(Stack::new(None).check("function", &name, MAX_LAMBDA_NAME, "Lambda").is_ok());
        let err = Stack::new(Some("shop")).check("function", &name, MAX_LAMBDA_NAME, "Lambda").unwrap_err();
        assert!(err.to_string().contains("67 characters"), "{err}");
        let err = Stack::new(None).check("queue", &"q".repeat(79), MAX_QUEUE_NAME, "SQS").unwrap_err();
        assert!(err.to_string().contains("even with a one-character stack name"), "{err}");
    }

    #[test]
    fn queue_names_are_sqs_names() {
        assert!(check_queue_name("resize_jobs-2").is_ok());
        for bad in ["", "jobs.fifo", "a b", "jöbs"] {
            assert!(check_queue_name(bad).is_err(), "{bad:?}");
        }
    }
}
