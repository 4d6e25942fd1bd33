"""Per-token settings: the saved filter, the dashboard's theme and layout."""

from __future__ import annotations

from fastapi import APIRouter

from ..auth import ReadAccess
from ..queries import load_settings, save_settings
from ..schemas import FilterBody, LayoutBody, ThemeBody
from ..state import StateDep

router = APIRouter(prefix="/api", tags=["settings"])


@router.post("/filter", summary="Save the caller's filter ({} clears it)")
async def set_filter(body: FilterBody, identity: ReadAccess,
                     state: StateDep):
    """Stored per token; applies to ``/api/anomalies`` and its export."""
    value = body.model_dump(exclude_none=True)
    async with state.sessions() as session:
        saved = await save_settings(state, session, identity.token_id, filter=value)
    return {"filter": saved["filter"]}


@router.get("/filter", summary="The caller's saved filter")
async def get_filter(identity: ReadAccess,
                     state: StateDep):
    async with state.sessions() as session:
        return {"filter": (await load_settings(state, session, identity.token_id))["filter"]}


@router.post("/theme", summary="Save the dashboard's colour scheme")
async def set_theme(body: ThemeBody, identity: ReadAccess,
                    state: StateDep):
    async with state.sessions() as session:
        saved = await save_settings(state, session, identity.token_id, theme=body.theme)
    return {"theme": saved["theme"]}


@router.get("/theme", summary="The dashboard's colour scheme")
async def get_theme(identity: ReadAccess,
                    state: StateDep):
    async with state.sessions() as session:
        saved = await load_settings(state, session, identity.token_id)
    return {"theme": saved["theme"] or "thermal"}


@router.post("/layout", summary="Save the dashboard's panel layout")
async def set_layout(body: LayoutBody, identity: ReadAccess,
                     state: StateDep):
    async with state.sessions() as session:
        saved = await save_settings(state, session, identity.token_id, layout=body.layout)
    return {"layout": saved["layout"]}


@router.get("/layout", summary="The dashboard's panel layout")
async def get_layout(identity: ReadAccess,
                     state: StateDep):
    async with state.sessions() as session:
        saved = await load_settings(state, session, identity.token_id)
    return {"layout": saved["layout"] or {}}
