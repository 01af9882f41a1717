"""The one error type: services raise it, the API renders it in the contract's shape."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class ErrorCode(StrEnum):
    VALIDATION_ERROR = "VALIDATION_ERROR"
    UNAUTHORIZED = "UNAUTHORIZED"
    PLAN_LIMIT = "PLAN_LIMIT"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    CONFLICT = "CONFLICT"
    PRECONDITION_FAILED = "PRECONDITION_FAILED"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    RATE_LIMITED = "RATE_LIMITED"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    UNAVAILABLE = "UNAVAILABLE"


HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.VALIDATION_ERROR: 400,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.PLAN_LIMIT: 402,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.CONFLICT: 409,
    ErrorCode.PRECONDITION_FAILED: 412,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.IDEMPOTENCY_KEY_REUSED: 422,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.INTERNAL_ERROR: 500,
    ErrorCode.UNAVAILABLE: 503,
}


@dataclass(frozen=True)
class ErrorDetail:
    path: str
    message: str


@dataclass
class HeraldError(Exception):
    code: ErrorCode
    message: str
    details: list[ErrorDetail] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    @property
    def http_status(self) -> int:
        return HTTP_STATUS[self.code]

    def details_json(self) -> list[dict[str, str]]:
        return [{"path": d.path, "message": d.message} for d in self.details]

    @classmethod
    def not_found(cls, resource: str) -> HeraldError:
        return cls(ErrorCode.NOT_FOUND, f"{resource} not found")

    @classmethod
    def invalid(cls, path: str, message: str) -> HeraldError:
        return cls(ErrorCode.VALIDATION_ERROR, message, [ErrorDetail(path, message)])

    @classmethod
    def conflict(cls, message: str) -> HeraldError:
        return cls(ErrorCode.CONFLICT, message)

    @classmethod
    def unavailable(cls, message: str, retry_after_s: int = 5) -> HeraldError:
        return cls(ErrorCode.UNAVAILABLE, message, headers={"Retry-After": str(retry_after_s)})

    @classmethod
    def platform_unreachable(cls, platform: str, reason: str) -> HeraldError:
        return cls.unavailable(f"{platform} could not be reached: {reason}")

    @classmethod
    def engine_unreachable(cls) -> HeraldError:
        return cls.unavailable("the workflow engine is unreachable")


class IllegalTransition(HeraldError):
    """A change the post's state forbids (409). Workflow Update validators refuse the same
    changes with an ApplicationError of type `herald.temporal.ILLEGAL_TRANSITION`, which the
    gateway turns into this."""

    def __init__(self, message: str) -> None:
        super().__init__(ErrorCode.CONFLICT, message)
