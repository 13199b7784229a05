"""`GET /api/whoami`: the API token a request carries (any live token; no scope needed).

It lets a client check its token, and is the smallest route behind `api_principal`,
which every `/api` route uses with the scopes it needs.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from dispatch.auth.deps import api_principal
from dispatch.auth.tokens import ApiPrincipal

router = APIRouter(prefix="/api", tags=["auth"])


class WhoAmI(BaseModel):
    name: str
    prefix: str
    scopes: list[str]


@router.get("/whoami", response_model=WhoAmI)
async def whoami(principal: ApiPrincipal = Depends(api_principal())) -> WhoAmI:
    return WhoAmI(name=principal.name, prefix=principal.prefix, scopes=sorted(principal.scopes))
