//! Opening stores and queues by URL: unknown schemes, providers whose feature is off, bad options.
//! Runs with default features and with `--no-default-features` (see `cargo xtask test`).

use cloudport::ErrorKind;

fn config_error(result: cloudport::Result<impl std::fmt::Debug>) -> String {
    let err = result.expect_err("expected a configuration error");
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    err.to_string()
}

#[test]
fn cloud_schemes_name_the_feature_to_enable() {
    #[cfg(not(feature = "aws-s3"))]
    {
        let msg = config_error(cloudport::blob::open("s3://bucket/prefix"));
        assert!(msg.contains("`aws-s3` feature"), "{msg}");
    }
    #[cfg(not(feature = "aws-sqs"))]
    {
        let msg = config_error(cloudport::queue::open("sqs://jobs"));
        assert!(msg.contains("`aws-sqs` feature"), "{msg}");
    }
    #[cfg(not(feature = "azure"))]
    {
        let msg = config_error(cloudport::blob::open("az://account/container"));
        assert!(msg.contains("`azure` feature"), "{msg}");
    }
    let msg = config_error(cloudport::queue::open("pubsub://project/topic?subscription=s"));
    assert!(msg.contains("`gcp` feature"), "{msg}");
}

#[test]
fn unknown_schemes_and_malformed_urls_are_config_errors() {
    let msg = config_error(cloudport::blob::open("ftp://example/x"));
    assert!(msg.contains("unknown blob store URL scheme ftp://"), "{msg}");
    let msg = config_error(cloudport::queue::open("kafka://broker/topic"));
    assert!(msg.contains("unknown queue URL scheme kafka://"), "{msg}");
    let msg = config_error(cloudport::blob::open("not a url"));
    assert!(msg.contains("not a URL"), "{msg}");
}

#[cfg(not(feature = "local"))]
#[test]
fn local_schemes_name_the_local_feature_when_it_is_off() {
    let msg = config_error(cloudport::blob::open("file:///tmp/x"));
    assert!(msg.contains("`local` feature"), "{msg}");
    let msg = config_error(cloudport::queue::open("sqlite:///tmp/q.db"));
    assert!(msg.contains("`local` feature"), "{msg}");
}

#[cfg(feature = "local")]
#[test]
fn unknown_options_are_rejected_not_ignored() {
    let msg = config_error(cloudport::blob::open("memory://features-test?fsync=false"));
    assert!(msg.contains("fsync"), "{msg}");
    let msg = config_error(cloudport::queue::open("memory://features-test?dead_leter=x"));
    assert!(msg.contains("dead_leter"), "{msg}");
}

#[cfg(feature = "local")]
#[test]
fn from_env_names_the_variable() {
    for var in ["CLOUDPORT_BLOB_URL", "CLOUDPORT_QUEUE_URL"] {
        assert!(std::env::var_os(var).is_none(), "unset {var} to run this test (cargo xtask test does)");
    }
    let msg = config_error(cloudport::blob::from_env());
    assert!(msg.contains("CLOUDPORT_BLOB_URL"), "{msg}");
    let msg = config_error(cloudport::queue::from_env());
    assert!(msg.contains("CLOUDPORT_QUEUE_URL"), "{msg}");
}

#[cfg(feature = "aws")]
#[test]
fn aws_schemes_open_and_check_their_options() {
    // Opening is offline: the SDK configuration loads on first use.
    let store = cloudport::blob::open("s3://my-bucket/app?region=eu-west-1").expect("s3:// with the aws feature");
    assert_eq!(store.capabilities().provider, "aws-s3");
    let queue = cloudport::queue::open("sqs://jobs?dead_letter=jobs-dlq&max_deliveries=5").expect("sqs://");
    assert_eq!(queue.name(), "jobs");
    let msg = config_error(cloudport::blob::open("s3://my-bucket?regoin=eu-west-1"));
    assert!(msg.contains("regoin"), "{msg}");
    let msg = config_error(cloudport::blob::open("s3://B/x"));
    assert!(msg.contains("bucket"), "{msg}");
    let msg = config_error(cloudport::queue::open("sqs://jobs?dead_letter=jobs-dlq"));
    assert!(msg.contains("max_deliveries"), "{msg}");
    let err = cloudport::queue::open("sqs://jobs.fifo").expect_err("FIFO queues");
    assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
}

#[cfg(feature = "azure")]
#[test]
fn azure_schemes_open_and_check_their_options() {
    // Without a connection string the stores still open (offline); their first operation says
    // what to set.
    let store = cloudport::blob::open("az://account/container/app").expect("az:// with the azure feature");
    assert_eq!(store.capabilities().provider, "azure-blob");
    let queue = cloudport::queue::open("azqueue://account/jobs").expect("azqueue://");
    assert_eq!(queue.name(), "jobs");
    let msg = config_error(cloudport::blob::open("az://account/container?part_sise=1"));
    assert!(msg.contains("part_sise"), "{msg}");
    let msg = config_error(cloudport::queue::open("azqueue://account/jobs?creat=true"));
    assert!(msg.contains("creat"), "{msg}");
}
