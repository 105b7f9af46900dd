"""Transforms a SAM template to plain CloudFormation with aws-sam-translator, offline.

Usage: python sam_translate.py TEMPLATE_IN CLOUDFORMATION_OUT

Runs the same translator the `AWS::Serverless-2016-10-31` transform runs in CloudFormation,
with the parameters and pseudo-parameters given fixed values and a managed-policy loader that
never reaches IAM. Local `CodeUri`s are replaced by an S3 URI first, as `sam package`/`sam
deploy` do after uploading the code (the transform accepts only S3 locations). Writes the CloudFormation template as JSON; on a template SAM rejects,
prints SAM's errors to stderr and exits with status 1.
"""

import json
import os
import sys

# The translator asks boto3 for the region (for pseudo-parameters and ARNs); never the network.
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

from samtranslator.model.exceptions import InvalidDocumentException  # noqa: E402
from samtranslator.translator.transform import transform  # noqa: E402


class OfflinePolicyLoader:
    """Resolves managed policy names to ARNs without asking IAM (policies named by ARN, as SAM
    adds its own, need no lookup)."""

    def load(self):
        names = ["AWSLambdaBasicExecutionRole", "AWSLambdaSQSQueueExecutionRole", "AWSXRayDaemonWriteAccess"]
        return {name: f"arn:aws:iam::aws:policy/service-role/{name}" for name in names}


def packaged(template):
    """The template as `sam package` leaves it: code locations in S3."""
    artifact = "s3://cloudport-sam-test-artifacts/bootstrap.zip"
    function_globals = template.get("Globals", {}).get("Function", {})
    if "CodeUri" in function_globals and not str(function_globals["CodeUri"]).startswith("s3://"):
        function_globals["CodeUri"] = artifact
    for resource in template.get("Resources", {}).values():
        properties = resource.get("Properties", {})
        if resource.get("Type") == "AWS::Serverless::Function" and "CodeUri" in properties:
            properties["CodeUri"] = artifact
    return template


def main():
    source, target = sys.argv[1], sys.argv[2]
    with open(source, encoding="utf-8") as f:
        template = json.load(f)
    parameters = {"BucketName": "cloudport-sam-test-bucket"}
    try:
        translated = transform(packaged(template), parameters, OfflinePolicyLoader())
    except InvalidDocumentException as e:
        for cause in e.causes:
            print(f"SAM rejected the template: {cause.message}", file=sys.stderr)
        sys.exit(1)
    with open(target, "w", encoding="utf-8") as f:
        json.dump(translated, f, indent=2, sort_keys=True)


if __name__ == "__main__":
    main()
