"""The problem document every error answers (RFC 9457), as one OpenAPI schema."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class FieldError(BaseModel):
    """One thing wrong with the request, and where it is."""

    model_config = ConfigDict(extra="allow")

    field: str = Field(
        description="the field, parameter or header at fault, dotted for nested "
        "fields (`referrer.role`, `items.0.kind`)",
        examples=["score"],
    )
    in_: Literal["body", "query", "path", "header"] = Field(
        alias="in", description="where the field is: body, query, path or header"
    )
    message: str = Field(
        description="what is wrong with it, in a sentence",
        examples=["a odi score must be from 0 to 100, not 150"],
    )
    allowed: list[str] | None = Field(
        None, description="for an enumerated field: every value it accepts"
    )


class ProblemDetails(BaseModel):
    """An error, as RFC 9457 problem details (`application/problem+json`)."""

    model_config = ConfigDict(
        extra="allow",
        title="Problem",
        json_schema_extra={
            "examples": [
                {
                    "type": "/problems/invalid-request",
                    "title": "The request is invalid",
                    "status": 422,
                    "detail": "score: a odi score must be from 0 to 100, not 150",
                    "instance": "/episodes/0b5e6f1e-3c1a-4d7e-9a55-1f0c2b7d9e41/outcomes",
                    "request_id": "6c1f2e4a9b8d4f0e8a7b6c5d4e3f2a1b",
                    "errors": [
                        {"field": "score", "in": "body", "message": "out of range"}
                    ],
                }
            ]
        },
    )

    type: str = Field(
        description="what kind of problem, as a relative URI (`/problems/<slug>`); "
        "stable: branch on it, not on the title",
        examples=["/problems/rule-violated"],
    )
    title: str = Field(description="a short human summary of the kind of problem")
    status: int = Field(description="the HTTP status code, repeated")
    detail: str = Field(description="what went wrong with this request, in a sentence")
    instance: str | None = Field(description="the path of the request that failed")
    request_id: str = Field(
        description="the request's id (also the X-Request-ID header); quote it when "
        "asking about a failure"
    )
    errors: list[FieldError] | None = Field(
        None, description="422 only: every field at fault, each with where it is"
    )
    field: str | None = Field(
        None, description="the field a rule of the episode or a domain check names"
    )
    current_version: int | None = Field(
        None, description="412 only: the episode's version now (also its ETag)"
    )
