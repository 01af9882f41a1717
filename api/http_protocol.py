"""The HTTP protocol `herald api` serves with: uvicorn's, except that a request the HTTP
parser refuses (a header value with a control character, a malformed request line) is
answered with the contract's error shape rather than uvicorn's plain text. The parser
refuses it before any ASGI code runs, so this is the only place that can."""

from __future__ import annotations

import json

from uvicorn.protocols.http.h11_impl import H11Protocol

from api.middleware import REQUEST_ID_HEADER, new_request_id
from herald.errors import ErrorCode

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # httptools is optional in uvicorn; h11 always there
    HttpToolsProtocol = None  # type: ignore[assignment,misc]


def refusal(message: str) -> bytes:
    """A whole HTTP/1.1 400 response in the contract's error shape; the connection closes."""
    request_id = new_request_id()
    body = json.dumps(
        {
            "error": {
                "code": ErrorCode.VALIDATION_ERROR.value,
                "message": f"the request is not valid HTTP ({message}); header values may not "
                "hold control characters",
                "details": [],
                "request_id": request_id,
            }
        }
    ).encode()
    head = (
        "HTTP/1.1 400 Bad Request\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        f"{REQUEST_ID_HEADER}: {request_id}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class ContractH11Protocol(H11Protocol):
    def send_400_response(self, msg: str) -> None:
        self.transport.write(refusal(msg))
        self.transport.close()


if HttpToolsProtocol is not None:

    class ContractHttpToolsProtocol(HttpToolsProtocol):
        def send_400_response(self, msg: str) -> None:
            self.transport.write(refusal(msg))
            self.transport.close()

    PROTOCOL: type = ContractHttpToolsProtocol
else:
    PROTOCOL = ContractH11Protocol
