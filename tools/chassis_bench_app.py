"""The app `tools/bench_chassis.py` measures: one pre-serialised route, bare or in the chassis.

BENCH_MODE=bare | chassis; ACCESS_LOG=true|false applies to the chassis."""

from __future__ import annotations

import os
import tempfile

from fastapi import APIRouter, FastAPI
from vanity_common.app import ServiceParts, build_service_app, json_response
from vanity_common.settings import ServiceSettings


class BenchSettings(ServiceSettings):
    service_name = "bench"


router = APIRouter()


@router.get("/ping")
async def ping():
    return json_response({"ok": True})


if os.environ.get("BENCH_MODE") == "bare":
    app = FastAPI()
    app.include_router(router)
else:
    app = build_service_app(
        BenchSettings(grpc_enabled=False, data_dir=tempfile.mkdtemp(prefix="vanity-bench-")),
        ServiceParts(routers=[router]),
    )
