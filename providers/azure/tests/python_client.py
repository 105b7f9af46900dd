"""The official Python client (azure-storage-blob) on the other side of a cross-client check.

python_client.py read  <connection string> <container> <blob>
    prints {"size", "sha256", "content_type", "metadata", "etag"} of the blob it downloads
python_client.py write <connection string> <container> <blob> <size>
    uploads <size> bytes (byte i = i * 31 % 251) in 64 KiB blocks, content type
    application/x-python and metadata origin=python; prints {"etag", "sha256"}
"""

import hashlib
import json
import sys

from azure.storage.blob import BlobServiceClient, ContentSettings


def service(connection_string):
    # Small blocks so that a few hundred KiB already take the staged-block path.
    return BlobServiceClient.from_connection_string(
        connection_string, max_single_put_size=64 * 1024, max_block_size=64 * 1024
    )


def read(connection_string, container, blob):
    client = service(connection_string).get_blob_client(container, blob)
    downloader = client.download_blob()
    data = downloader.readall()
    props = downloader.properties
    print(json.dumps({
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "content_type": props.content_settings.content_type,
        "metadata": props.metadata,
        "etag": props.etag,
    }))


def write(connection_string, container, blob, size):
    data = bytes(i * 31 % 251 for i in range(size))
    client = service(connection_string).get_blob_client(container, blob)
    result = client.upload_blob(
        data,
        overwrite=True,
        max_concurrency=2,
        content_settings=ContentSettings(content_type="application/x-python"),
        metadata={"origin": "python"},
    )
    print(json.dumps({"etag": result["etag"], "sha256": hashlib.sha256(data).hexdigest()}))


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    if command == "read":
        read(*args)
    elif command == "write":
        write(args[0], args[1], args[2], int(args[3]))
    else:
        sys.exit(f"unknown command {command!r}")
