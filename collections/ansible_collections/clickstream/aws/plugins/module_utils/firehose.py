# Copyright: Clickstream platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Desired state, comparison and AWS calls for Amazon Data Firehose delivery streams.

The module ``clickstream.aws.firehose_delivery_stream`` is a thin shell around
this file. What decides *what* to do is plain functions of plain dicts
(``build_desired``, ``settings_view``, ``destination_update``,
``encryption_change``), tested without AWS. ``DeliveryStreamManager`` reads the
stream, asks those functions what differs and makes the calls; in check mode it
makes none of the writing ones and applies the desired settings to its view
instead, so the predicted result comes from the same code.

A stream is a Direct PUT stream with one Amazon S3 destination
(ExtendedS3DestinationConfiguration). Its settings are compared in one flat
"view" whose keys are the module's option names; the diff shows that view.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.tagging import (
    ansible_dict_to_boto3_tag_list,
    boto3_tag_list_to_ansible_dict,
    compare_aws_tags,
)

DEFAULT_PREFIX = "events/"
# Failed records (data transformation, format conversion, dynamic partitioning)
# go outside the events prefix, by kind and hour.
DEFAULT_ERROR_OUTPUT_PREFIX = "errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH}/"
DEFAULT_LOG_STREAM = "S3Delivery"
# Firehose's own values for an S3 destination, for a description that leaves
# a field out (moto returns only what the request set).
DEFAULT_BUFFERING_SIZE = 5
DEFAULT_BUFFERING_INTERVAL = 300
DEFAULT_COMPRESSION = "UNCOMPRESSED"
COMPRESSION_FORMATS = ("UNCOMPRESSED", "GZIP", "ZIP", "Snappy", "HADOOP_SNAPPY")
KEY_TYPES = ("AWS_OWNED_CMK", "CUSTOMER_MANAGED_CMK")
ERROR_OUTPUT_TYPE = "!{firehose:error-output-type}"

# The service model's patterns and limits (botocore's firehose service-2.json).
_NAME_RE = re.compile(r"^[a-zA-Z0-9_.-]{1,64}$")
_BUCKET_ARN_RE = re.compile(r"^arn:[a-z-]+:s3:::[\w.-]{1,255}$")
_ROLE_ARN_RE = re.compile(r"^arn:[a-z-]+:iam::\d{12}:role/[\w+=,.@/-]+$")
_S3_KMS_ARN_RE = re.compile(r"^arn:[a-z-]+:kms:[a-z0-9-]+:\d{12}:(?:key|alias)/[\w+=,.@/-]+$")
_STREAM_KMS_ARN_RE = re.compile(r"^arn:[a-z-]+:kms:[a-z0-9-]+:\d{12}:key/[\w+=,.@/-]+$")
_LOG_GROUP_RE = re.compile(r"^[.\-_/#A-Za-z0-9]{1,512}$")
_LOG_STREAM_RE = re.compile(r"^[^:*]{1,512}$")
PREFIX_MAX = 1024

# How long a stream takes is not something to hammer DescribeDeliveryStream for.
POLL_SECONDS = 5
# A role created by the same play may not be assumable by Firehose yet (IAM is
# eventually consistent): CreateDeliveryStream and UpdateDestination answer
# InvalidArgumentException with one of these. Retried for this long at most.
ROLE_PROPAGATION_SECONDS = 120
_ROLE_NOT_READY = ("Firehose is unable to assume role", "is not authorized to perform")

_FAILED_STREAM_STATES = ("CREATING_FAILED", "DELETING_FAILED")
_ENCRYPTION_TRANSITIONS = ("ENABLING", "DISABLING")
_ENCRYPTION_FAILURES = ("ENABLING_FAILED", "DISABLING_FAILED")


class FirehoseError(Exception):
    """A bad argument or a stream in a state the module cannot work with: shown as is."""


# --------------------------------------------------------------------------
# Desired state from module parameters (validation lives here too)
# --------------------------------------------------------------------------


def build_desired(params: dict[str, Any]) -> dict[str, Any]:
    """Module parameters as a desired state: ``settings`` in the view's shape,
    plus ``tags`` (only when managed), ``purge_tags`` and ``create_log_stream``.
    Raises FirehoseError on invalid input."""
    check_name(params.get("name"))
    for option in ("bucket_arn", "role_arn"):
        if not params.get(option):
            raise FirehoseError(f"{option} is required when state=present")
    bucket_arn, role_arn = params["bucket_arn"], params["role_arn"]
    if not _BUCKET_ARN_RE.match(bucket_arn):
        raise FirehoseError(
            f"bucket_arn {bucket_arn!r} is not an S3 bucket ARN (arn:aws:s3:::<bucket>)"
        )
    if not _ROLE_ARN_RE.match(role_arn):
        raise FirehoseError(
            f"role_arn {role_arn!r} is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)"
        )
    prefix = _default(params.get("prefix"), DEFAULT_PREFIX)
    error_prefix = _default(params.get("error_output_prefix"), DEFAULT_ERROR_OUTPUT_PREFIX)
    check_prefixes(prefix, error_prefix)
    size = int(_default(params.get("buffering_size"), DEFAULT_BUFFERING_SIZE))
    if not 1 <= size <= 128:
        raise FirehoseError(f"buffering_size must be between 1 and 128 MiB, got {size}")
    interval = int(_default(params.get("buffering_interval"), DEFAULT_BUFFERING_INTERVAL))
    if not 0 <= interval <= 900:
        raise FirehoseError(f"buffering_interval must be between 0 and 900 seconds, got {interval}")
    compression = _default(params.get("compression"), DEFAULT_COMPRESSION)
    if compression not in COMPRESSION_FORMATS:
        raise FirehoseError(
            f"compression must be one of {', '.join(COMPRESSION_FORMATS)}, got {compression!r}"
        )
    kms_key = params.get("s3_kms_key_arn") or None
    if kms_key is not None and not _S3_KMS_ARN_RE.match(kms_key):
        raise FirehoseError(
            f"s3_kms_key_arn {kms_key!r} is not a KMS key or alias ARN "
            "(arn:aws:kms:<region>:<account>:key/<id> or :alias/<name>)"
        )
    logging = desired_logging(params.get("cloudwatch_logging"))
    settings = {
        "bucket_arn": bucket_arn,
        "role_arn": role_arn,
        "prefix": prefix,
        "error_output_prefix": error_prefix,
        "buffering_size": size,
        "buffering_interval": interval,
        "compression": compression,
        "s3_kms_key_arn": kms_key,
        "cloudwatch_logging": logging,
        "stream_encryption": desired_encryption(params.get("stream_encryption")),
    }
    desired: dict[str, Any] = {
        "settings": settings,
        "create_log_stream": bool(
            logging["enabled"]
            and _default((params.get("cloudwatch_logging") or {}).get("create_log_stream"), True)
        ),
    }
    if params.get("tags") is not None:
        desired["tags"] = {str(k): str(v) for k, v in params["tags"].items()}
        desired["purge_tags"] = bool(_default(params.get("purge_tags"), True))
    return desired


def _default(value: Any, default: Any) -> Any:
    return default if value is None else value


def check_name(name: Any) -> None:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise FirehoseError(
            f"name {name!r} must be 1 to 64 letters, digits, '.', '_' or '-' "
            "(a delivery stream name)"
        )


def check_prefixes(prefix: str, error_prefix: str) -> None:
    """Firehose's rules for Prefix and ErrorOutputPrefix, checked before any call.

    A prefix without a ``timestamp`` expression gets ``yyyy/MM/dd/HH/`` appended
    as it is written, so ``events`` would give ``events2024/...``: such a prefix
    must end with ``/`` here (moto adds the slash itself, AWS does not).
    """
    for option, value in (("prefix", prefix), ("error_output_prefix", error_prefix)):
        if len(value) > PREFIX_MAX:
            raise FirehoseError(f"{option} is longer than {PREFIX_MAX} characters")
    if ERROR_OUTPUT_TYPE in prefix:
        raise FirehoseError(f"prefix cannot contain {ERROR_OUTPUT_TYPE} (error_output_prefix can)")
    if "!{" in prefix and not error_prefix:
        raise FirehoseError(
            "error_output_prefix must be set when prefix contains !{...} expressions"
        )
    if prefix and "!{timestamp:" not in prefix and not prefix.endswith("/"):
        raise FirehoseError(
            f"prefix {prefix!r} must end with '/': Firehose appends yyyy/MM/dd/HH/ to a prefix "
            "without a timestamp expression exactly as it is written"
        )
    if "!{" in error_prefix and ERROR_OUTPUT_TYPE not in error_prefix:
        raise FirehoseError(
            f"error_output_prefix with expressions must contain {ERROR_OUTPUT_TYPE}"
        )


def desired_logging(logging: dict[str, Any] | None) -> dict[str, Any]:
    """CloudWatch delivery-error logging in the view's shape; off when not set."""
    if not logging or logging.get("enabled") is False:
        return {"enabled": False, "log_group_name": None, "log_stream_name": None}
    group = logging.get("log_group_name")
    stream = _default(logging.get("log_stream_name"), DEFAULT_LOG_STREAM)
    if not group:
        raise FirehoseError("cloudwatch_logging.log_group_name is required when logging is on")
    if not _LOG_GROUP_RE.match(group):
        raise FirehoseError(
            f"cloudwatch_logging.log_group_name {group!r} must be a log group name "
            "(letters, digits and . - _ / #)"
        )
    if not _LOG_STREAM_RE.match(stream):
        raise FirehoseError(
            f"cloudwatch_logging.log_stream_name {stream!r} must be 1 to 512 characters "
            "without ':' or '*'"
        )
    return {"enabled": True, "log_group_name": group, "log_stream_name": stream}


def desired_encryption(encryption: dict[str, Any] | None) -> dict[str, Any]:
    """Server-side encryption of the stream in the view's shape; off when not set."""
    if not encryption or encryption.get("enabled") is False:
        return {"enabled": False, "key_type": None, "key_arn": None}
    key_type = _default(encryption.get("key_type"), "AWS_OWNED_CMK")
    key_arn = encryption.get("key_arn") or None
    if key_type not in KEY_TYPES:
        raise FirehoseError(f"stream_encryption.key_type must be one of {', '.join(KEY_TYPES)}")
    if key_type == "CUSTOMER_MANAGED_CMK":
        if key_arn is None:
            raise FirehoseError("stream_encryption.key_arn is required with CUSTOMER_MANAGED_CMK")
        if not _STREAM_KMS_ARN_RE.match(key_arn):
            raise FirehoseError(
                f"stream_encryption.key_arn {key_arn!r} is not a KMS key ARN "
                "(arn:aws:kms:<region>:<account>:key/<id>; an alias is not accepted)"
            )
    elif key_arn is not None:
        raise FirehoseError("stream_encryption.key_arn only applies to CUSTOMER_MANAGED_CMK")
    return {"enabled": True, "key_type": key_type, "key_arn": key_arn}


# --------------------------------------------------------------------------
# Views of what AWS returns, comparisons and requests
# --------------------------------------------------------------------------


def s3_destination(stream: dict[str, Any]) -> dict[str, Any]:
    """The stream's ExtendedS3DestinationDescription; FirehoseError when it has none."""
    destinations = stream.get("Destinations") or []
    name = stream.get("DeliveryStreamName")
    if len(destinations) != 1 or "ExtendedS3DestinationDescription" not in destinations[0]:
        kinds = sorted(
            key.removesuffix("DestinationDescription")
            for destination in destinations
            for key in destination
            if key.endswith("DestinationDescription")
        )
        raise FirehoseError(
            f"delivery stream {name} delivers to {', '.join(kinds) or 'nothing'}, not to one "
            "S3 destination; this module cannot change that: delete it first (state=absent)"
        )
    return destinations[0]["ExtendedS3DestinationDescription"]


def destination_view(description: dict[str, Any]) -> dict[str, Any]:
    """An ExtendedS3DestinationDescription in the view's shape (option names)."""
    hints = description.get("BufferingHints") or {}
    kms = (description.get("EncryptionConfiguration") or {}).get("KMSEncryptionConfig") or {}
    logging = description.get("CloudWatchLoggingOptions") or {}
    enabled = bool(logging.get("Enabled"))
    return {
        "bucket_arn": description.get("BucketARN"),
        "role_arn": description.get("RoleARN"),
        "prefix": description.get("Prefix") or "",
        "error_output_prefix": description.get("ErrorOutputPrefix") or "",
        "buffering_size": hints.get("SizeInMBs", DEFAULT_BUFFERING_SIZE),
        "buffering_interval": hints.get("IntervalInSeconds", DEFAULT_BUFFERING_INTERVAL),
        "compression": description.get("CompressionFormat") or DEFAULT_COMPRESSION,
        "s3_kms_key_arn": kms.get("AWSKMSKeyARN"),
        # Names kept by AWS while logging is off are not compared.
        "cloudwatch_logging": {
            "enabled": enabled,
            "log_group_name": logging.get("LogGroupName") if enabled else None,
            "log_stream_name": logging.get("LogStreamName") if enabled else None,
        },
    }


def encryption_status(config: dict[str, Any] | None) -> str:
    """The stream's encryption status. moto returns the creation request's
    configuration without a Status: a KeyType alone means ENABLED there."""
    config = config or {}
    return config.get("Status") or ("ENABLED" if config.get("KeyType") else "DISABLED")


def encryption_view(config: dict[str, Any] | None) -> dict[str, Any]:
    """DeliveryStreamEncryptionConfiguration in the view's shape. Encryption that
    is being turned on counts as on, and so does encryption that failed to turn off."""
    status = encryption_status(config)
    if status not in ("ENABLED", "ENABLING", "DISABLING_FAILED"):
        return {"enabled": False, "key_type": None, "key_arn": None}
    key_type = (config or {}).get("KeyType") or "AWS_OWNED_CMK"
    key_arn = (config or {}).get("KeyARN") if key_type == "CUSTOMER_MANAGED_CMK" else None
    return {"enabled": True, "key_type": key_type, "key_arn": key_arn}


def settings_view(stream: dict[str, Any], tags: dict[str, str]) -> dict[str, Any]:
    """Everything the module manages about a stream, in the shape of its options.
    FirehoseError for a stream this module cannot turn into the one it manages."""
    kind = stream.get("DeliveryStreamType") or "DirectPut"
    if kind != "DirectPut":
        raise FirehoseError(
            f"delivery stream {stream.get('DeliveryStreamName')} is a {kind} stream, not "
            "DirectPut; a stream's source cannot change: delete it first (state=absent)"
        )
    return {
        **destination_view(s3_destination(stream)),
        "stream_encryption": encryption_view(stream.get("DeliveryStreamEncryptionConfiguration")),
        "tags": dict(tags),
    }


def _request_parts(settings: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The destination request's fields that carry each setting of the view."""
    hints = {
        "BufferingHints": {
            "SizeInMBs": settings["buffering_size"],
            "IntervalInSeconds": settings["buffering_interval"],
        }
    }
    if settings["s3_kms_key_arn"]:
        encryption = {"KMSEncryptionConfig": {"AWSKMSKeyARN": settings["s3_kms_key_arn"]}}
    else:
        encryption = {"NoEncryptionConfig": "NoEncryption"}
    logging = settings["cloudwatch_logging"]
    if logging["enabled"]:
        logging_options = {
            "Enabled": True,
            "LogGroupName": logging["log_group_name"],
            "LogStreamName": logging["log_stream_name"],
        }
    else:
        logging_options = {"Enabled": False}
    return {
        "role_arn": {"RoleARN": settings["role_arn"]},
        "bucket_arn": {"BucketARN": settings["bucket_arn"]},
        "prefix": {"Prefix": settings["prefix"]},
        "error_output_prefix": {"ErrorOutputPrefix": settings["error_output_prefix"]},
        "buffering_size": hints,
        "buffering_interval": hints,
        "compression": {"CompressionFormat": settings["compression"]},
        "s3_kms_key_arn": {"EncryptionConfiguration": encryption},
        "cloudwatch_logging": {"CloudWatchLoggingOptions": logging_options},
    }


def destination_request(settings: dict[str, Any]) -> dict[str, Any]:
    """ExtendedS3DestinationConfiguration for a new stream: every managed field."""
    request: dict[str, Any] = {}
    for part in _request_parts(settings).values():
        request.update(part)
    if not settings["error_output_prefix"]:
        del request["ErrorOutputPrefix"]
    return request


def destination_update(current: dict[str, Any], desired: dict[str, Any]) -> dict[str, Any]:
    """ExtendedS3DestinationUpdate with the fields whose setting differs; empty when
    none does. Firehose merges an update into the destination, so a structure
    (BufferingHints, EncryptionConfiguration, CloudWatchLoggingOptions) is sent whole."""
    update: dict[str, Any] = {}
    for key, part in _request_parts(desired).items():
        if current.get(key) != desired[key]:
            update.update(part)
    return update


def encryption_input(encryption: dict[str, Any]) -> dict[str, Any]:
    """DeliveryStreamEncryptionConfigurationInput for encryption that is on."""
    request = {"KeyType": encryption["key_type"]}
    if encryption["key_type"] == "CUSTOMER_MANAGED_CMK":
        request["KeyARN"] = encryption["key_arn"]
    return request


def encryption_change(current: dict[str, Any], desired: dict[str, Any]) -> str | None:
    """``start`` (StartDeliveryStreamEncryption, also to change the key), ``stop``
    (StopDeliveryStreamEncryption) or None."""
    if current == desired:
        return None
    return "start" if desired["enabled"] else "stop"


def role_not_ready(error: Exception) -> bool:
    """Whether a ClientError says the role is not (yet) usable by Firehose."""
    response = getattr(error, "response", None) or {}
    details = response.get("Error") or {}
    return details.get("Code") == "InvalidArgumentException" and any(
        text in (details.get("Message") or "") for text in _ROLE_NOT_READY
    )


def _failure(description: dict[str, Any] | None) -> str:
    if not description:
        return ""
    return f": {description.get('Type')}: {description.get('Details')}"


def _timestamp(value: Any) -> str | None:
    return value.isoformat() if hasattr(value, "isoformat") else value


# --------------------------------------------------------------------------
# AWS calls
# --------------------------------------------------------------------------


class DeliveryStreamManager:
    """Reads one delivery stream (description and tags) and converges it.

    ``client`` is a firehose client wrapped by amazon.aws's
    RetryingBotoClientWrapper (``AnsibleAWSModule.client(...,
    retry_decorator=...)``), so every call passes ``aws_retry=True``;
    ``logs_client`` builds the CloudWatch Logs one when a log stream must be
    looked at. Waiting, in all, lasts ``wait_timeout`` seconds at most.
    """

    def __init__(
        self,
        client: Any,
        name: str,
        *,
        check_mode: bool = False,
        wait_timeout: int = 600,
        logs_client: Callable[[], Any] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.name = name
        self.check_mode = check_mode
        self.logs_client = logs_client
        self.sleep = sleep
        self.clock = clock
        self.deadline = clock() + wait_timeout
        self.wait_timeout = wait_timeout
        self.changed = False
        self.operations: list[str] = []
        self.stream: dict[str, Any] | None = None
        # The managed settings: as read, then as written (or, in check mode, as
        # they would be written).
        self.settings: dict[str, Any] | None = None

    # -- reading -----------------------------------------------------------

    def describe(self) -> dict[str, Any] | None:
        try:
            response = self.client.describe_delivery_stream(
                DeliveryStreamName=self.name, aws_retry=True
            )
        except is_boto3_error_code("ResourceNotFoundException"):
            return None
        return response["DeliveryStreamDescription"]

    def list_tags(self) -> dict[str, str]:
        tags: list[dict[str, str]] = []
        request: dict[str, Any] = {"DeliveryStreamName": self.name}
        while True:
            page = self.client.list_tags_for_delivery_stream(aws_retry=True, **request)
            tags += page.get("Tags") or []
            if not page.get("HasMoreTags") or not page.get("Tags"):
                return boto3_tag_list_to_ansible_dict(tags)
            request["ExclusiveStartTagKey"] = page["Tags"][-1]["Key"]

    def load(self) -> None:
        self._use(self.describe())

    def _use(self, stream: dict[str, Any] | None) -> None:
        self.stream = stream
        if stream is None or stream.get("DeliveryStreamStatus") == "DELETING":
            self.settings = None
        else:
            self.settings = settings_view(stream, self.list_tags())

    def view(self) -> dict[str, Any]:
        """The managed settings for the diff; empty when there is no stream."""
        return dict(self.settings) if self.settings is not None else {}

    # -- waiting -----------------------------------------------------------

    def _poll(
        self,
        done: Callable[[dict[str, Any] | None], bool],
        what: str,
        failed: Callable[[dict[str, Any] | None], str | None] = lambda stream: None,
    ) -> None:
        """Describe the stream until ``done`` says so, ``failed`` names a failure, or
        the deadline passes."""
        while True:
            stream = self.describe()
            if done(stream):
                self.stream = stream
                return
            problem = failed(stream)
            if problem:
                raise FirehoseError(problem)
            if self.clock() >= self.deadline:
                state = "gone" if stream is None else stream.get("DeliveryStreamStatus")
                raise FirehoseError(
                    f"timed out after {self.wait_timeout} s waiting for delivery stream "
                    f"{self.name} to {what} (now {state}); raise wait_timeout or run again"
                )
            self.sleep(POLL_SECONDS)

    def _stream_failed(self, stream: dict[str, Any] | None) -> str | None:
        status = (stream or {}).get("DeliveryStreamStatus")
        if status not in _FAILED_STREAM_STATES:
            return None
        return (
            f"delivery stream {self.name} is {status}"
            f"{_failure((stream or {}).get('FailureDescription'))}; delete it (state=absent) "
            "and run again"
        )

    def _encryption_failed(self, stream: dict[str, Any] | None) -> str | None:
        problem = self._stream_failed(stream)
        encryption = (stream or {}).get("DeliveryStreamEncryptionConfiguration") or {}
        if problem is None and encryption_status(encryption) in _ENCRYPTION_FAILURES:
            problem = (
                f"server-side encryption of delivery stream {self.name} is "
                f"{encryption['Status']}{_failure(encryption.get('FailureDescription'))}"
            )
        return problem

    @staticmethod
    def _stable(stream: dict[str, Any] | None) -> bool:
        """Gone, or ACTIVE with its encryption not in the middle of a change."""
        if stream is None:
            return True
        encryption = stream.get("DeliveryStreamEncryptionConfiguration")
        return (
            stream.get("DeliveryStreamStatus") == "ACTIVE"
            and encryption_status(encryption) not in _ENCRYPTION_TRANSITIONS
        )

    @staticmethod
    def _active_with(encryption: str) -> Callable[[dict[str, Any] | None], bool]:
        """A ``done`` for _poll: ACTIVE with encryption ``ENABLED`` or ``DISABLED``."""

        def done(stream: dict[str, Any] | None) -> bool:
            return (
                stream is not None
                and stream.get("DeliveryStreamStatus") == "ACTIVE"
                and encryption_status(stream.get("DeliveryStreamEncryptionConfiguration"))
                == encryption
            )

        return done

    def _wait_for_encryption(self, settings: dict[str, Any]) -> None:
        target = "ENABLED" if settings["stream_encryption"]["enabled"] else "DISABLED"
        self._poll(
            self._active_with(target),
            f"be ACTIVE with encryption {target}",
            self._encryption_failed,
        )

    # -- writing -----------------------------------------------------------

    def _write(self, operation: str, client: Any = None, **kwargs: Any) -> dict[str, Any]:
        """Make a writing call, or in check mode only record it."""
        self.changed = True
        self.operations.append(operation)
        if self.check_mode:
            return {}
        return getattr(client or self.client, operation)(aws_retry=True, **kwargs)

    def _write_with_role(self, operation: str, **kwargs: Any) -> None:
        """A writing call that names the role, retried while Firehose cannot assume a
        role that was just created or changed."""
        self.changed = True
        self.operations.append(operation)
        if self.check_mode:
            return
        deadline = min(self.deadline, self.clock() + ROLE_PROPAGATION_SECONDS)
        while True:
            try:
                getattr(self.client, operation)(aws_retry=True, **kwargs)
                return
            except is_boto3_error_code("InvalidArgumentException") as error:
                if not role_not_ready(error) or self.clock() >= deadline:
                    raise
            self.sleep(POLL_SECONDS)

    def ensure_present(self, desired: dict[str, Any], wait: bool = True) -> None:
        if self.stream is not None and not self.check_mode and not self._stable(self.stream):
            # Being created, deleted or (de)encrypted: no change is accepted meanwhile.
            self._poll(self._stable, "become ACTIVE", self._stream_failed)
            self._use(self.stream)
        if desired["create_log_stream"]:
            self._ensure_log_stream(desired["settings"]["cloudwatch_logging"])
        if self.settings is None:
            self._create(desired, wait)
        else:
            self._update(desired, wait)
        if self.changed and not self.check_mode:
            stream = self.describe()
            if stream is not None:  # a stream just created may not be visible yet
                self._use(stream)

    def _create(self, desired: dict[str, Any], wait: bool) -> None:
        settings = desired["settings"]
        request: dict[str, Any] = {
            "DeliveryStreamName": self.name,
            "DeliveryStreamType": "DirectPut",
            "ExtendedS3DestinationConfiguration": destination_request(settings),
        }
        if settings["stream_encryption"]["enabled"]:
            request["DeliveryStreamEncryptionConfigurationInput"] = encryption_input(
                settings["stream_encryption"]
            )
        if desired.get("tags"):
            request["Tags"] = ansible_dict_to_boto3_tag_list(desired["tags"])
        self._write_with_role("create_delivery_stream", **request)
        self.settings = {**settings, "tags": dict(desired.get("tags") or {})}
        if wait and not self.check_mode:
            self._wait_for_encryption(settings)

    def _update(self, desired: dict[str, Any], wait: bool) -> None:
        if self.stream is None or self.settings is None:  # a programming error
            raise RuntimeError("no delivery stream loaded")
        settings = desired["settings"]
        update = destination_update(self.settings, settings)
        if update:
            self._write_with_role(
                "update_destination",
                DeliveryStreamName=self.name,
                CurrentDeliveryStreamVersionId=self.stream["VersionId"],
                DestinationId=self.stream["Destinations"][0]["DestinationId"],
                ExtendedS3DestinationUpdate=update,
            )
        change = encryption_change(
            self.settings["stream_encryption"], settings["stream_encryption"]
        )
        if change == "start":
            self._write(
                "start_delivery_stream_encryption",
                DeliveryStreamName=self.name,
                DeliveryStreamEncryptionConfigurationInput=encryption_input(
                    settings["stream_encryption"]
                ),
            )
        elif change == "stop":
            self._write("stop_delivery_stream_encryption", DeliveryStreamName=self.name)
        self.settings.update(settings)
        if change and wait and not self.check_mode:
            self._wait_for_encryption(settings)
        if "tags" in desired:
            self._ensure_tags(desired["tags"], desired["purge_tags"])

    def _ensure_tags(self, tags: dict[str, str], purge: bool) -> None:
        if self.settings is None:  # a programming error
            raise RuntimeError("no delivery stream loaded")
        current = dict(self.settings["tags"])
        to_set, to_unset = compare_aws_tags(current, tags, purge_tags=purge)
        if to_unset:
            self._write("untag_delivery_stream", DeliveryStreamName=self.name, TagKeys=to_unset)
        if to_set:
            self._write(
                "tag_delivery_stream",
                DeliveryStreamName=self.name,
                Tags=ansible_dict_to_boto3_tag_list(to_set),
            )
        for key in to_unset:
            current.pop(key, None)
        current.update(to_set)
        self.settings["tags"] = current

    def _ensure_log_stream(self, logging: dict[str, Any]) -> None:
        """Create the log stream Firehose writes delivery errors to, in its existing
        log group (through the API, Firehose creates neither)."""
        if self.logs_client is None:  # a programming error
            raise RuntimeError("no CloudWatch Logs client to create the log stream with")
        logs = self.logs_client()
        group, stream = logging["log_group_name"], logging["log_stream_name"]
        try:
            pages = logs.get_paginator("describe_log_streams").paginate(
                logGroupName=group, logStreamNamePrefix=stream
            )
            names = {s["logStreamName"] for page in pages for s in page.get("logStreams", [])}
        except is_boto3_error_code("ResourceNotFoundException"):
            if not self.check_mode:
                raise FirehoseError(
                    f"log group {group} does not exist: create it first "
                    "(amazon.aws.cloudwatchlogs_log_group)"
                ) from None
            names = set()  # an earlier task of this check run would create it
        if stream not in names:
            self._write("create_log_stream", logs, logGroupName=group, logStreamName=stream)

    def ensure_absent(self, wait: bool = True) -> None:
        if self.stream is None:
            return
        if self.stream.get("DeliveryStreamStatus") != "DELETING":
            if self.stream.get("DeliveryStreamStatus") == "CREATING" and not self.check_mode:
                # A stream cannot be deleted while it is being created.
                self._poll(
                    lambda s: s is None or s.get("DeliveryStreamStatus") != "CREATING",
                    "finish being created",
                )
            if self.stream is not None:
                self._write("delete_delivery_stream", DeliveryStreamName=self.name)
        if wait and not self.check_mode:
            self._poll(lambda s: s is None, "be deleted", self._stream_failed)
        self.stream, self.settings = None, None

    # -- results -----------------------------------------------------------

    def result(self) -> dict[str, Any]:
        """The module's ``delivery_stream``: identity and state as last read, settings
        as written (or as they would be, in check mode); empty when there is none."""
        if self.settings is None:
            return {}
        stream = self.stream or {}
        destinations = stream.get("Destinations") or [{}]
        return {
            "name": self.name,
            "arn": stream.get("DeliveryStreamARN"),
            "status": stream.get("DeliveryStreamStatus"),
            "delivery_stream_type": stream.get("DeliveryStreamType", "DirectPut"),
            "version_id": stream.get("VersionId"),
            "destination_id": destinations[0].get("DestinationId"),
            "create_timestamp": _timestamp(stream.get("CreateTimestamp")),
            "last_update_timestamp": _timestamp(stream.get("LastUpdateTimestamp")),
            "encryption_status": (
                encryption_status(stream.get("DeliveryStreamEncryptionConfiguration"))
                if stream
                else None
            ),
            **self.settings,
        }
