"""Stable error codes and the one exception type that carries them out of the domain."""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """Codes clients may rely on; never rename one, only add."""

    VALIDATION_FAILED = "VALIDATION_FAILED"
    DOWNLOAD_EXPIRED = "DOWNLOAD_EXPIRED"  # a data download link that was used or expired
    DOWNLOAD_NOT_READY = "DOWNLOAD_NOT_READY"  # the worker has not built it yet
    NOT_FOUND = "NOT_FOUND"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    INVALID_TRANSITION = "INVALID_TRANSITION"
    REASON_REQUIRED = "REASON_REQUIRED"
    STALE_VERSION = "STALE_VERSION"
    PAGE_SIZE_EXCEEDED = "PAGE_SIZE_EXCEEDED"
    INVALID_CURSOR = "INVALID_CURSOR"
    INVALID_ID = "INVALID_ID"
    PARTICIPANT_ERASED = "PARTICIPANT_ERASED"
    PARTICIPANT_WITHDRAWN = "PARTICIPANT_WITHDRAWN"
    INVALID_REFRESH_TOKEN = "INVALID_REFRESH_TOKEN"  # noqa: S105 - a code, not a secret
    ENROLMENT_CODE_INVALID = "ENROLMENT_CODE_INVALID"
    ENROLMENT_CODE_EXPIRED = "ENROLMENT_CODE_EXPIRED"
    ENROLMENT_CODE_USED = "ENROLMENT_CODE_USED"
    RATE_LIMITED = "RATE_LIMITED"
    SERVER_BUSY = "SERVER_BUSY"  # try again shortly (e.g. as many exports run as allowed)
    CONSENT_REQUIRED = "CONSENT_REQUIRED"
    CONSENT_LANGUAGE_DROPPED = "CONSENT_LANGUAGE_DROPPED"  # give a reason, or keep the language
    VISIT_BEFORE_REGISTRATION = "VISIT_BEFORE_REGISTRATION"
    VISIT_BEFORE_ENROLMENT = "VISIT_BEFORE_ENROLMENT"
    PARTICIPANT_NOT_ENROLLED = "PARTICIPANT_NOT_ENROLLED"
    PAGE_ARGUMENTS_CONFLICT = "PAGE_ARGUMENTS_CONFLICT"  # 'first' and 'last' together
    WEAK_PASSWORD = "WEAK_PASSWORD"  # noqa: S105 - a code, not a secret
    # The HTTP edge: requests that cannot be read or are not allowed as sent.
    INVALID_REQUEST = "INVALID_REQUEST"  # JSON, but not a GraphQL request (e.g. 42, null)
    INVALID_ENCODING = "INVALID_ENCODING"  # the body is not UTF-8
    INVALID_JSON = "INVALID_JSON"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    NOT_ACCEPTABLE = "NOT_ACCEPTABLE"  # no media type in Accept that Hearth can answer with
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    TOO_MANY_OPERATIONS = "TOO_MANY_OPERATIONS"  # a batch over the limit
    OPERATION_NAME_REQUIRED = "OPERATION_NAME_REQUIRED"  # several operations, none named
    OPERATION_NOT_FOUND = "OPERATION_NOT_FOUND"  # operationName names none of the document's
    QUERY_TOO_COSTLY = "QUERY_TOO_COSTLY"  # the cost limit, computed before execution
    PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"  # send the query with its hash
    PERSISTED_QUERY_NOT_SUPPORTED = "PERSISTED_QUERY_NOT_SUPPORTED"
    PERSISTED_QUERY_MISMATCH = "PERSISTED_QUERY_MISMATCH"  # the hash is not the query's
    PERSISTED_QUERY_REQUIRED = "PERSISTED_QUERY_REQUIRED"  # only registered operations run
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
    STUDY_CLOSED = "STUDY_CLOSED"  # the study is closed: it collects nothing new
    STUDY_STILL_ACTIVE = "STUDY_STILL_ACTIVE"  # participants or visits still open: cannot close
    STUDY_NOT_CLOSED = "STUDY_NOT_CLOSED"  # only a closed study can be purged
    RETENTION_BELOW_MINIMUM = "RETENTION_BELOW_MINIMUM"  # shorter than the installation allows
    RETENTION_NOT_ELAPSED = "RETENTION_NOT_ELAPSED"  # the message names the date it ends
    INVALID_WEBHOOK_URL = "INVALID_WEBHOOK_URL"  # not an absolute http(s) URL with a host
    UNKNOWN_EVENT_TYPE = "UNKNOWN_EVENT_TYPE"  # a webhook subscribed to no event Hearth emits
    RECEIPT_NOT_SEALED = "RECEIPT_NOT_SEALED"  # in no signed checkpoint yet: ask after the next
    # A study's list of reason codes: none given, a code given twice, or OTHER left out.
    REASON_CODES_EMPTY = "REASON_CODES_EMPTY"
    REASON_CODE_REPEATED = "REASON_CODE_REPEATED"
    REASON_CODE_OTHER_REQUIRED = "REASON_CODE_OTHER_REQUIRED"


class DomainError(Exception):
    """A rule said no. The message is safe to show; it never contains personal data."""

    def __init__(self, code: ErrorCode, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


class NotFound(DomainError):
    def __init__(self, what: str) -> None:
        super().__init__(ErrorCode.NOT_FOUND, f"{what} not found.")


class Forbidden(DomainError):
    def __init__(self, message: str = "You are not allowed to do this.") -> None:
        super().__init__(ErrorCode.FORBIDDEN, message)


class Unauthenticated(DomainError):
    def __init__(self) -> None:
        super().__init__(ErrorCode.UNAUTHENTICATED, "Authentication required.")


class Invalid(DomainError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(ErrorCode.VALIDATION_FAILED, message, field=field)


class AlreadyExists(DomainError):
    def __init__(self, what: str, field: str | None = None) -> None:
        super().__init__(ErrorCode.ALREADY_EXISTS, f"{what} already exists.", field=field)
