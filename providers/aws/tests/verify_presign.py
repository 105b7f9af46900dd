"""Recomputes the SigV4 signature of an S3 presigned URL with botocore, AWS's own signer.

moto does not check presigned signatures, so the S3 tests ask botocore instead: given a URL
cloudport presigned, sign the same request (method, path, query without the signature, signed
headers) with botocore at the URL's own X-Amz-Date and print botocore's signature. The test
compares it with the URL's.

usage: python verify_presign.py METHOD URL ACCESS_KEY SECRET_KEY REGION [HEADER=VALUE ...]
"""

import datetime
import sys
import urllib.parse

import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

AUTH_PARAMS = {
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
    "X-Amz-Security-Token",
}


def main() -> None:
    method, url, access_key, secret_key, region, *headers = sys.argv[1:]
    parts = urllib.parse.urlsplit(url)
    params = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    given = dict(params)
    signed_at = datetime.datetime.strptime(given["X-Amz-Date"], "%Y%m%dT%H%M%SZ")

    class Frozen(datetime.datetime):
        """botocore reads the clock itself; sign at the URL's time instead."""

        @classmethod
        def utcnow(cls):
            return signed_at

        @classmethod
        def now(cls, tz=None):
            return signed_at.replace(tzinfo=tz) if tz else signed_at

    botocore.auth.datetime.datetime = Frozen
    rest = [(k, v) for k, v in params if k not in AUTH_PARAMS]
    unsigned = urllib.parse.urlunsplit(
        (parts.scheme, parts.netloc, parts.path, urllib.parse.urlencode(rest, quote_via=urllib.parse.quote), "")
    )
    request = AWSRequest(method=method, url=unsigned)
    for header in headers:
        name, value = header.split("=", 1)
        request.headers[name] = value
    auth = botocore.auth.S3SigV4QueryAuth(
        Credentials(access_key, secret_key), "s3", region, expires=int(given["X-Amz-Expires"])
    )
    auth.add_auth(request)
    ours = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(request.url).query))
    print(ours["X-Amz-Signature"])
    print(ours["X-Amz-SignedHeaders"])


if __name__ == "__main__":
    main()
