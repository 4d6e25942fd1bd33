"""``POST /api/series/{series_id}/points``: online scoring (issue 16).

The route is part of the contract; until the streaming detector is served it
answers 501 with a detail saying so, after checking the caller may write.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from ..auth import WriteAccess

router = APIRouter(prefix="/api/series", tags=["streaming"])


@router.post("/{series_id}/points", summary="Push points of a live series (not yet served)")
async def push_points(series_id: str, identity: WriteAccess):
    raise HTTPException(501, "Online scoring of pushed points is not served yet (the "
                             "streaming detector comes next); upload the series with "
                             "POST /api/datasets/upload and model_id instead.")
