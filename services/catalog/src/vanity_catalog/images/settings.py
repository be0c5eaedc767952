"""Product image settings: where images are stored and what an upload may be.

Every variable can be given per service or plainly (`CATALOG_IMAGE_STORE` or `IMAGE_STORE`),
like every other setting (vanity_common.settings).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import SecretStr
from vanity_common.settings import ServiceSettings


class ImageSettings(ServiceSettings):
    # "local": a folder (IMAGES_DIR, default <DATA_DIR>/images), for one machine; "s3": an
    # S3-compatible bucket with versioning on (production). `python -m vanity_catalog
    # images-setup` creates the bucket when missing and turns its versioning on.
    image_store: Literal["local", "s3"] = "local"
    images_dir: Path | None = None
    images_s3_bucket: str = "vanity-catalog-images"
    images_s3_prefix: str = "images/"
    # MinIO, Ceph, R2 or a local fake; unset: AWS itself.
    images_s3_endpoint_url: str | None = None
    images_s3_region: str | None = None
    # Unset: boto3's own chain (AWS_* variables, the pod's role, ~/.aws), the better choice in
    # production; set, they are used instead.
    images_s3_access_key_id: SecretStr | None = None
    images_s3_secret_access_key: SecretStr | None = None
    # Uploads: larger bodies are refused (413) before they are read whole; more pixels (422)
    # before they are decoded. Decoding takes about 4 bytes a pixel: 40 MP is ~160 MB.
    image_max_bytes: int = 10 * 1024 * 1024
    image_max_pixels: int = 40_000_000
    image_processing_slots: int = 2  # images decoded or drawn at once (bounds the memory)

    def model_post_init(self, context: Any, /) -> None:
        super().model_post_init(context)
        if self.images_dir is None:
            self.images_dir = self.data_dir / "images"

    def production_problems(self) -> list[str]:
        problems = super().production_problems()
        if self.image_store == "local":
            problems.append(
                "IMAGE_STORE is local: production keeps product images in S3-compatible "
                "storage (IMAGE_STORE=s3, IMAGES_S3_BUCKET, IMAGES_S3_ENDPOINT_URL)"
            )
        return problems
