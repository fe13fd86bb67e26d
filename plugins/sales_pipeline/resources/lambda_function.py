"""The Firehose transformation Lambda, deployed from include/lambda/ as a deterministic zip.

Same source, same bytes, same CodeSha256: the code is uploaded only when the source changed.
"""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from pathlib import Path
from typing import Any

from sales_pipeline.aws import Clients
from sales_pipeline.resources.base import Resource, Section, absent_on, retry_while
from sales_pipeline.resources.names import Names

LAMBDA_DIR = Path(__file__).resolve().parents[3] / "include" / "lambda"
MODULE = "sales_transform"
# A fixed timestamp and mode: zip headers otherwise carry the file's mtime and the umask.
_EPOCH = (1980, 1, 1, 0, 0, 0)


def package(source_dir: Path = LAMBDA_DIR) -> bytes:
    """The function's zip: the handler module at the root, byte-for-byte reproducible."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in sorted(source_dir.glob("*.py")):
            info = zipfile.ZipInfo(path.name, date_time=_EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def code_sha256(zip_bytes: bytes) -> str:
    """As Lambda reports it: base64 of the SHA-256 of the zip."""
    return base64.b64encode(hashlib.sha256(zip_bytes).digest()).decode()


def function_configuration(names: Names) -> dict[str, Any]:
    return {
        "Runtime": "python3.12",
        "Handler": f"{MODULE}.handler",
        "Role": names.role_arn("lambda"),
        # Firehose waits up to 5 min per invocation; a 1 MB batch transforms in well under a second.
        "Timeout": 60,
        "MemorySize": 256,
        "Description": f"sales-stream {names.config.env}: DynamoDB change records to Athena-ready JSON lines",
    }


class TransformFunction(Resource):
    kind = "Lambda function"

    def __init__(self, clients: Clients, names: Names, source_dir: Path = LAMBDA_DIR) -> None:
        self.lambda_ = clients("lambda")
        self.names = names
        self.name = names.config.transform_function_name
        self.zip = package(source_dir)

    def describe(self) -> dict[str, Any] | None:
        reply = absent_on({"ResourceNotFoundException"}, lambda: self.lambda_.get_function(FunctionName=self.name))
        return None if reply is None else dict(reply["Configuration"])

    def exists(self) -> bool:
        return self.describe() is not None

    def arn(self) -> str:
        return self.names.function_arn

    def create(self) -> None:
        # A role created moments ago may not be assumable yet (IAM is eventually consistent).
        retry_while(
            {"InvalidParameterValueException"},
            lambda: self.lambda_.create_function(
                FunctionName=self.name,
                Code={"ZipFile": self.zip},
                Tags=self.names.config.tags,
                **function_configuration(self.names),
            ),
        )
        self.wait_ready()

    def delete(self) -> None:
        self.lambda_.delete_function(FunctionName=self.name)

    def tags(self) -> dict[str, str]:
        return dict(self.lambda_.list_tags(Resource=self.names.function_arn).get("Tags", {}))

    def health(self) -> list[str]:
        function = self.describe()
        if function is None:
            return ["does not exist"]
        problems = []
        if function.get("State", "Active") != "Active":
            problems.append(f"State is {function.get('State')}: {function.get('StateReason', '')}".rstrip(": "))
        if function.get("LastUpdateStatus", "Successful") not in ("Successful",):
            problems.append(f"LastUpdateStatus is {function.get('LastUpdateStatus')}")
        return problems

    def _write_code(self, _want: str) -> None:
        self.lambda_.update_function_code(FunctionName=self.name, ZipFile=self.zip)
        self.wait_ready()

    def _write_configuration(self, want: dict[str, Any]) -> None:
        self.lambda_.update_function_configuration(FunctionName=self.name, **want)
        self.wait_ready()

    def sections(self) -> list[Section]:
        return [
            Section("CodeSha256", code_sha256(self.zip), lambda: (self.describe() or {}).get("CodeSha256"),
                    self._write_code),
            Section("Configuration", function_configuration(self.names), lambda: self.describe() or {},
                    self._write_configuration),
            Section("Tags", self.names.config.tags, self.tags,
                    lambda want: self.lambda_.tag_resource(Resource=self.names.function_arn, Tags=want)),
        ]  # fmt: skip
