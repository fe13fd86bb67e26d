"""The HTTPS listener and S3 bucket policies with conditions: a TLS-only bucket admits TLS and refuses plain HTTP."""

from __future__ import annotations

import json
import os
import re
import signal
import ssl
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from localaws import LocalAWS

REGION = "us-east-1"
REPO = Path(__file__).resolve().parents[2]


def tls_only_policy(bucket: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }


@pytest.fixture(scope="module")
def s3_http(localaws: LocalAWS) -> Any:
    """Plain HTTP on purpose: aws:SecureTransport is false for everything this client sends."""
    return boto3.client("s3", endpoint_url=localaws.endpoint_url, region_name=REGION)


@pytest.fixture(scope="module")
def s3_tls(localaws: LocalAWS) -> Any:
    return boto3.client("s3", endpoint_url=localaws.tls_endpoint_url, verify=localaws.ca_bundle, region_name=REGION)


@pytest.fixture(scope="module")
def tls_only_bucket(s3_http: Any, s3_tls: Any) -> str:
    bucket = "policy-tls-only"
    s3_tls.create_bucket(Bucket=bucket)
    s3_tls.put_bucket_policy(Bucket=bucket, Policy=json.dumps(tls_only_policy(bucket)))
    s3_tls.put_object(Bucket=bucket, Key="data/existing.json", Body=b'{"orderid": "o-1"}\n')
    return bucket


def error_of(caught: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = caught.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_tls_listener_serves_a_certificate_the_ca_bundle_verifies(localaws: LocalAWS) -> None:
    assert localaws.tls_endpoint_url.startswith("https://127.0.0.1:")
    context = ssl.create_default_context(cafile=localaws.ca_bundle)
    with urllib.request.urlopen(f"{localaws.tls_endpoint_url}/_localaws/health", context=context) as reply:
        assert json.load(reply)["status"] == "running"
    # by name too: the certificate covers localhost
    with urllib.request.urlopen(f"https://localhost:{localaws.tls_port}/_localaws/health", context=context) as reply:
        assert reply.status == 200
    with pytest.raises(urllib.error.URLError) as caught:  # without the CA bundle: a real, unverifiable TLS server
        urllib.request.urlopen(f"{localaws.tls_endpoint_url}/_localaws/health", context=ssl.create_default_context())
    assert isinstance(caught.value.reason, ssl.SSLCertVerificationError)


def test_tls_only_policy_admits_requests_over_tls(s3_tls: Any, tls_only_bucket: str) -> None:
    s3_tls.put_object(Bucket=tls_only_bucket, Key="data/new.json", Body=b"{}\n")
    assert s3_tls.get_object(Bucket=tls_only_bucket, Key="data/new.json")["Body"].read() == b"{}\n"
    assert s3_tls.head_object(Bucket=tls_only_bucket, Key="data/new.json")["ContentLength"] == 3
    keys = [o["Key"] for o in s3_tls.list_objects_v2(Bucket=tls_only_bucket, Prefix="data/")["Contents"]]
    assert "data/new.json" in keys
    s3_tls.copy_object(Bucket=tls_only_bucket, Key="data/copy.json", CopySource=f"{tls_only_bucket}/data/new.json")
    s3_tls.delete_object(Bucket=tls_only_bucket, Key="data/copy.json")
    deleted = s3_tls.delete_objects(Bucket=tls_only_bucket, Delete={"Objects": [{"Key": "data/new.json"}]})
    assert [d["Key"] for d in deleted["Deleted"]] == ["data/new.json"] and "Errors" not in deleted


def test_tls_only_policy_refuses_plain_http_with_access_denied(s3_http: Any, tls_only_bucket: str) -> None:
    for call in (
        lambda: s3_http.put_object(Bucket=tls_only_bucket, Key="data/plain.json", Body=b"{}"),
        lambda: s3_http.get_object(Bucket=tls_only_bucket, Key="data/existing.json"),
        lambda: s3_http.list_objects_v2(Bucket=tls_only_bucket),
        lambda: s3_http.get_bucket_tagging(Bucket=tls_only_bucket),
    ):
        with pytest.raises(ClientError) as caught:
            call()
        assert error_of(caught) == ("AccessDenied", 403)
        assert "explicit deny in a resource-based policy" in caught.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as caught:  # HEAD: the status alone, as S3 sends no body
        s3_http.head_object(Bucket=tls_only_bucket, Key="data/existing.json")
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    # DeleteObjects answers 200 with a per-key AccessDenied, and deletes nothing
    reply = s3_http.delete_objects(Bucket=tls_only_bucket, Delete={"Objects": [{"Key": "data/existing.json"}]})
    assert [(e["Key"], e["Code"]) for e in reply["Errors"]] == [("data/existing.json", "AccessDenied")]


def test_access_denied_is_s3s_xml_error(localaws: LocalAWS, tls_only_bucket: str) -> None:
    request = urllib.request.Request(f"{localaws.endpoint_url}/{tls_only_bucket}/data/existing.json")
    with pytest.raises(urllib.error.HTTPError) as caught:  # unsigned: anonymous, denied all the same
        urllib.request.urlopen(request)
    assert caught.value.code == 403
    assert caught.value.headers["Content-Type"] == "application/xml"
    body = caught.value.read().decode()
    assert "<Code>AccessDenied</Code>" in body and "<Message>Access Denied</Message>" in body
    assert "<RequestId>" in body and "<HostId>" in body


def test_presigned_urls_follow_the_transport(
    localaws: LocalAWS, s3_http: Any, s3_tls: Any, tls_only_bucket: str
) -> None:
    params = {"Bucket": tls_only_bucket, "Key": "data/existing.json"}
    context = ssl.create_default_context(cafile=localaws.ca_bundle)
    with urllib.request.urlopen(s3_tls.generate_presigned_url("get_object", Params=params), context=context) as reply:
        assert reply.read() == b'{"orderid": "o-1"}\n'
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(s3_http.generate_presigned_url("get_object", Params=params))
    assert caught.value.code == 403
    assert "<Code>AccessDenied</Code>" in caught.value.read().decode()


def test_copy_needs_the_source_bucket_to_allow_the_read(s3_http: Any, s3_tls: Any, tls_only_bucket: str) -> None:
    s3_http.create_bucket(Bucket="policy-open")
    with pytest.raises(ClientError) as caught:
        s3_http.copy_object(Bucket="policy-open", Key="copy.json", CopySource=f"{tls_only_bucket}/data/existing.json")
    assert error_of(caught) == ("AccessDenied", 403)
    s3_tls.copy_object(Bucket="policy-open", Key="copy.json", CopySource=f"{tls_only_bucket}/data/existing.json")
    assert s3_http.get_object(Bucket="policy-open", Key="copy.json")["Body"].read() == b'{"orderid": "o-1"}\n'


def test_the_bucket_owner_can_always_manage_the_policy(s3_http: Any, tls_only_bucket: str) -> None:
    policy = json.loads(s3_http.get_bucket_policy(Bucket=tls_only_bucket)["Policy"])
    assert policy["Statement"][0]["Sid"] == "DenyInsecureTransport"
    s3_http.put_bucket_policy(Bucket=tls_only_bucket, Policy=json.dumps(policy))


def test_a_policy_denying_tls_refuses_tls_and_admits_plain_http(s3_http: Any, s3_tls: Any) -> None:
    s3_http.create_bucket(Bucket="policy-inverted")
    policy = tls_only_policy("policy-inverted")
    policy["Statement"][0]["Condition"] = {"Bool": {"aws:SecureTransport": "true"}}
    s3_http.put_bucket_policy(Bucket="policy-inverted", Policy=json.dumps(policy))
    s3_http.put_object(Bucket="policy-inverted", Key="k", Body=b"x")
    with pytest.raises(ClientError) as caught:
        s3_tls.get_object(Bucket="policy-inverted", Key="k")
    assert error_of(caught) == ("AccessDenied", 403)


def test_other_statements_and_conditions(s3_http: Any, s3_tls: Any) -> None:
    bucket = "policy-mixed"
    s3_tls.create_bucket(Bucket=bucket)
    statements = [
        {  # unconditional: also over TLS
            "Effect": "Deny", "Principal": {"AWS": "*"}, "Action": ["s3:PutObject", "s3:DeleteObject"],
            "Resource": f"arn:aws:s3:::{bucket}/locked/*",
        },
        {  # encryption header required on uploads under enc/
            "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/enc/*",
            "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "AES256"}},
        },
        {  # someone else's account: not us
            "Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::999999999999:root"}, "Action": "s3:*",
            "Resource": f"arn:aws:s3:::{bucket}/*",
        },
        {  # callers outside loopback: not us
            "Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*",
            "Condition": {"NotIpAddress": {"aws:SourceIp": ["127.0.0.0/8", "::1/128"]}},
        },
        {  # an unknown key under a non-negated operator never matches
            "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": f"arn:aws:s3:::{bucket}/*",
            "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-1234"}},
        },
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"},
    ]  # fmt: skip
    s3_tls.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": statements}))

    for client in (s3_http, s3_tls):
        with pytest.raises(ClientError) as caught:
            client.put_object(Bucket=bucket, Key="locked/a", Body=b"x")
        assert error_of(caught) == ("AccessDenied", 403)
    s3_http.put_object(Bucket=bucket, Key="open/a", Body=b"x")
    assert s3_http.get_object(Bucket=bucket, Key="open/a")["Body"].read() == b"x"

    with pytest.raises(ClientError) as caught:
        s3_tls.put_object(Bucket=bucket, Key="enc/a", Body=b"x")
    assert error_of(caught) == ("AccessDenied", 403)
    s3_tls.put_object(Bucket=bucket, Key="enc/a", Body=b"x", ServerSideEncryption="AES256")
    assert s3_tls.head_object(Bucket=bucket, Key="enc/a")["ServerSideEncryption"] == "AES256"


def test_tls_off_and_on_a_chosen_port(tmp_path: Path) -> None:
    with LocalAWS(port=0, tls_port=None) as plain:
        assert plain.endpoint_url.startswith("http://")
        with pytest.raises(RuntimeError):
            _ = plain.tls_endpoint_url
    with LocalAWS(port=0, tls_names=["localaws"], tls_dir=tmp_path / "certs") as aws:
        bundle = Path(aws.ca_bundle)
        assert bundle.parent == tmp_path / "certs"
        assert oct((tmp_path / "certs" / "localaws-server.key").stat().st_mode & 0o777) == "0o600"
    assert not bundle.exists()  # stop() removes the certificate files


@pytest.fixture
def thread_baseline() -> Iterator[set[int | None]]:
    yield {t.ident for t in threading.enumerate()}


def test_no_thread_outlives_exit_even_with_open_keep_alive_connections(thread_baseline: set[int | None]) -> None:
    with LocalAWS(port=0) as aws:
        directory = Path(aws.ca_bundle).parent
        for endpoint, verify in ((aws.endpoint_url, None), (aws.tls_endpoint_url, aws.ca_bundle)):
            client = boto3.client("s3", endpoint_url=endpoint, verify=verify, region_name=REGION)
            client.list_buckets()  # leaves a pooled keep-alive connection, and its handler thread, open
    leftover = [t.name for t in threading.enumerate() if t.ident not in thread_baseline and t.is_alive()]
    assert leftover == []
    assert not directory.exists()


def test_cli_prints_the_tls_endpoint_and_its_ca_bundle() -> None:
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'plugins'}{os.pathsep}{REPO}"}
    process = subprocess.Popen(
        [sys.executable, "-m", "localaws", "serve", "--port", "0", "--tls-name", "localaws"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        assert process.stdout.readline().startswith("localaws ready at http://127.0.0.1:")
        tls_line = process.stdout.readline()
        match = re.fullmatch(r"localaws TLS at (https://127\.0\.0\.1:\d+) \(CA bundle: (.+)\)\n", tls_line)
        assert match, tls_line
        context = ssl.create_default_context(cafile=match.group(2))
        with urllib.request.urlopen(f"{match.group(1)}/_localaws/health", context=context) as reply:
            assert reply.status == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
        assert not Path(match.group(2)).exists()
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
