"""The OpenAPI document as the tests read it: what each operation declares, and
the check that an answer is one of them, as a problem document when it is an error."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

PROBLEM_REF = "#/components/schemas/Problem"
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


@dataclass(frozen=True)
class Operation:
    """One operation of the document: method, path template and its declaration."""

    method: str
    path: str
    declaration: dict[str, Any] = field(compare=False, hash=False, repr=False)

    @property
    def statuses(self) -> set[int]:
        return {int(code) for code in self.declaration["responses"]}

    @property
    def secured(self) -> bool:
        return bool(self.declaration.get("security"))

    def parameters(self, where: str) -> list[dict[str, Any]]:
        return [p for p in self.declaration.get("parameters", []) if p["in"] == where]

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def operations(document: dict[str, Any]) -> list[Operation]:
    """Every operation of the document, in its order."""
    return [
        Operation(method.upper(), path, declaration)
        for path, methods in document["paths"].items()
        for method, declaration in methods.items()
    ]


def operation_of(document: dict[str, Any], method: str, url: str) -> Operation | None:
    """The operation a concrete request path falls under (templates matched
    segment by segment, literal paths first, as the router does); None if none."""
    path = url.split("?", 1)[0]
    found = [
        op
        for op in operations(document)
        if op.method == method and _template(op.path).fullmatch(path)
    ]
    return min(found, key=lambda op: op.path.count("{")) if found else None


def _template(path: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", path)
    return re.compile(
        "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts)
    )


def assert_documented(response: Any, operation: Operation) -> int:
    """The answer is not a 500, is one of the statuses the operation declares, and
    is a problem document (type, title, status, detail, request id) if an error."""
    status = response.status_code
    where = f"{operation} answered {status}: {response.text[:300]}"
    assert status != 500, where
    assert status in operation.statuses, f"undocumented status; {where}"
    if status >= 400:
        assert response.headers["content-type"].startswith(
            "application/problem+json"
        ), where
        body = response.json()
        assert body["status"] == status, where
        assert body["type"].startswith("/problems/") and body["title"], where
        assert body["detail"] and body["request_id"], where
    return status
