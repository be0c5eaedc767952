"""Catalog's image routes (thin: translate and delegate): the public variants and the admin
upload. The upload's body is the image itself (`Content-Type: image/jpeg|png|webp`)."""

from __future__ import annotations

from typing import Annotated

import grpc
from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response
from vanity_common.app import json_response
from vanity_common.errors import FieldError, ServiceError
from vanity_common.types import DbIdPath

from vanity_catalog.images.rules import CACHE_CONTROL, SIZES, UploadLimits, image_url
from vanity_catalog.rest import Admin, Container
from vanity_catalog.service.images import too_large

public = APIRouter(prefix="/api/v1", tags=["catalog images"])
admin = APIRouter(prefix="/api/v1/admin", tags=["catalog admin"])

_ACCEPTED = ("image/jpeg", "image/png", "image/webp", "application/octet-stream")
_BINARY = {"schema": {"type": "string", "format": "binary"}}


IMAGE_PATH = "/images/{key}/{size}.webp"


@public.get(
    IMAGE_PATH,
    response_class=Response,
    responses={200: {"content": {"image/webp": _BINARY}, "description": "The image"}},
    summary=f"A product image, {' / '.join(map(str, SIZES))} px wide",
)
async def get_image(
    request: Request,
    services: Container,
    key: Annotated[str, Path(max_length=80)],
    size: Annotated[str, Path(max_length=8)],
) -> Response:
    image = await services.images.variant(key, size)
    headers = {
        "Cache-Control": CACHE_CONTROL,  # a key names one content forever
        "ETag": image.etag,
        # opened on its own, the image is still only an image
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "X-Content-Type-Options": "nosniff",
    }
    inm = request.headers.get("if-none-match")
    if inm and (inm.strip() == "*" or image.etag in [t.strip() for t in inm.split(",")]):
        return Response(status_code=304, headers=headers)
    return Response(image.content, media_type="image/webp", headers=headers)


# HEAD answers the same headers (caches revalidate with it); one operation in the OpenAPI document.
public.add_api_route(IMAGE_PATH, get_image, methods=["HEAD"], include_in_schema=False)


def _unsupported(content_type: str) -> ServiceError:
    return ServiceError(
        f"Send the image itself as the body, not {content_type[:60]}.",
        reason="UNSUPPORTED_MEDIA_TYPE",
        errors=[FieldError("Content-Type", "image/jpeg, image/png or image/webp")],
        http_status=415,
        grpc_code=grpc.StatusCode.INVALID_ARGUMENT,
    )


async def _body(request: Request, limits: UploadLimits) -> bytes:
    """The body, refused as soon as it is known to be too large: from Content-Length before
    reading, else while reading (a chunked body), never buffered past the limit."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and (error := too_large(limits, int(declared))):
        raise error
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if error := too_large(limits, size):
            raise error
        chunks.append(chunk)
    return b"".join(chunks)


@admin.post(
    "/products/{product_id}/images",
    status_code=201,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {t: _BINARY for t in _ACCEPTED[:3]},
            "description": "The image: JPEG, PNG or WebP. Checked, re-encoded, never served as sent.",
        }
    },
)
async def admin_upload_image(
    request: Request,
    services: Container,
    principal: Admin,
    product_id: DbIdPath,
    sku: Annotated[
        str | None, Query(min_length=1, max_length=64, description="the variant it shows")
    ] = None,
):
    """Adds an image to the product (appended to `images`), or, with `sku`, sets the image of
    one of its variants. 201 with the product's admin view; `Location` is the image's URL."""
    content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if content_type and content_type not in _ACCEPTED:
        raise _unsupported(content_type)
    content = await _body(request, services.image_admin.limits)
    result, key = await services.image_admin.upload(
        principal, product_id, content, content_type or None, sku
    )
    headers = {"Cache-Control": "no-store", "Location": image_url(key)}
    return json_response(result, status_code=201, headers=headers)
