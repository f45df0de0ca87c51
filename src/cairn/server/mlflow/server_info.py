"""``GET server-info``: what MLflow's client asks a server before using an optional feature.

MLflow 3's client reads it (``mlflow.utils.server_info``) to decide whether to upload and
download large artifacts in parts through the proxy, and whether workspaces are on. Cairn
answers every such question no: its artifact proxy answers multipart requests with
NOT_IMPLEMENTED, so advertising them would make the client fail where a single streamed upload
works. Unlike MLflow's server, this asks for sign-in as every route does; a client that cannot
read it assumes the same answers.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from cairn.server.deps import principal
from cairn.server.jsonresponse import JsonResponse

router = APIRouter()

#: The answer, with the field names of ``mlflow.utils.server_info``.
SERVER_INFO: dict[str, Any] = {
    # Neither of MLflow's own stores (FileStore, SqlStore): its client only counts this.
    "store_type": None,
    "workspaces_enabled": False,
    "trace_archival_enabled": False,
    "multipart_uploads_enabled": False,
    "multipart_downloads_enabled": False,
    "presigned_upload_run_id_supported": False,
    "presigned_upload_model_id_supported": False,
    "features_enabled": {"gateway": False},
}


@router.get("/server-info", dependencies=[Depends(principal)])
def server_info() -> JsonResponse:
    return JsonResponse(SERVER_INFO)
