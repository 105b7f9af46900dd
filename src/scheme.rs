//! Which URL scheme belongs to which provider feature, so that a scheme whose feature is off gets
//! an error naming the feature instead of "unknown scheme".

use cloudport_core::Error;

/// What a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resource {
    Blob,
    Queue,
}

impl Resource {
    fn noun(self) -> &'static str {
        match self {
            Self::Blob => "blob store",
            Self::Queue => "queue",
        }
    }
}

/// Every scheme cloudport knows, with the resource it names and the feature that provides it.
const SCHEMES: &[(&str, Resource, &str)] = &[
    ("file", Resource::Blob, "local"),
    ("memory", Resource::Blob, "local"),
    ("memory", Resource::Queue, "local"),
    ("sqlite", Resource::Queue, "local"),
    ("s3", Resource::Blob, "aws-s3"),
    ("sqs", Resource::Queue, "aws-sqs"),
    ("az", Resource::Blob, "azure"),
    ("azqueue", Resource::Queue, "azure"),
    ("gs", Resource::Blob, "gcp"),
    ("pubsub", Resource::Queue, "gcp"),
];

/// The error for a scheme no compiled-in provider handles.
pub(crate) fn unavailable(scheme: &str, resource: Resource) -> Error {
    let known = SCHEMES.iter().find(|(s, r, _)| *s == scheme && *r == resource);
    match known {
        Some((_, _, feature)) => Error::config(format!(
            "{scheme}:// {} URLs need cloudport's `{feature}` feature, which is not enabled (add features = [\"{feature}\"] to the cloudport dependency in Cargo.toml)",
            resource.noun()
        )),
        None => {
            let supported: Vec<String> =
                SCHEMES.iter().filter(|(_, r, _)| *r == resource).map(|(s, _, _)| format!("{s}://")).collect();
            Error::config(format!(
                "unknown {} URL scheme {scheme}:// (cloudport knows {})",
                resource.noun(),
                supported.join(", ")
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disabled_feature_is_named() {
        let msg = unavailable("s3", Resource::Blob).to_string();
        assert!(msg.contains("`aws-s3` feature"), "{msg}");
        let msg = unavailable("pubsub", Resource::Queue).to_string();
        assert!(msg.contains("`gcp` feature"), "{msg}");
    }

    #[test]
    fn unknown_scheme_lists_known_ones() {
        let msg = unavailable("ftp", Resource::Blob).to_string();
        assert!(msg.contains("unknown blob store URL scheme ftp://"), "{msg}");
        assert!(msg.contains("s3://") && !msg.contains("sqs://"), "{msg}");
        // A queue scheme used for a blob store is unknown *as a blob store*.
        let msg = unavailable("sqs", Resource::Blob).to_string();
        assert!(msg.contains("unknown"), "{msg}");
    }
}
