"""Bearer tokens: creation, hashing, checking, and the scope dependency.

A token is 32 random bytes in URL-safe base64, shown once when created; the
database keeps only its SHA-256 digest, and a presented token is compared
with :func:`hmac.compare_digest`. Scopes are ordered: ``admin`` can do what
``write`` can, which can do what ``read`` can.

While the database holds no (unrevoked) token the server is in *local mode*:
every request is allowed, and :mod:`fusionlab.service.cli` refuses to listen
on anything but the loopback interface. The first token created switches
authentication on.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from .db import now_ms
from .tables import Token

__all__ = [
    "SCOPES",
    "Identity",
    "LOCAL",
    "hash_token",
    "new_token",
    "create_token",
    "TokenCache",
    "require",
    "has_scope",
    "ReadAccess",
    "WriteAccess",
    "AdminAccess",
]

#: Scopes, weakest first.
SCOPES = ("read", "write", "admin")
_RANK = {name: rank for rank, name in enumerate(SCOPES)}
# Seconds a positive look-up is trusted before the database is asked again
# (so a revoked token stops working within this delay).
CACHE_SECONDS = 5.0


@dataclass(frozen=True)
class Identity:
    """Who is calling: a token's id and scope (id 0, scope admin: local mode)."""

    token_id: int
    scope: str
    name: str = ""


#: The caller in local mode (no token configured).
LOCAL = Identity(0, "admin", "local")


def hash_token(token: str) -> str:
    """SHA-256 hex digest of a token.

    Examples
    --------
    >>> from fusionlab.service.auth import hash_token
    >>> len(hash_token("abc"))
    64
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A fresh random token (43 URL-safe characters)."""
    return secrets.token_urlsafe(32)


def has_scope(identity: Identity, scope: str) -> bool:
    """True when ``identity``'s scope includes ``scope``."""
    return _RANK[identity.scope] >= _RANK[scope]


async def create_token(session: AsyncSession, scope: str, name: str = "") -> str:
    """Store a new token's digest; return the token (shown once).

    Raises
    ------
    ValueError
        If ``scope`` is not one of :data:`SCOPES`.
    """
    if scope not in _RANK:
        raise ValueError(f"`scope` must be one of {SCOPES}; received {scope!r}.")
    token = new_token()
    session.add(Token(name=name or scope, digest=hash_token(token), scope=scope,
                      created_at=now_ms(), revoked=False))
    await session.commit()
    return token


class TokenCache:
    """Looks tokens up in the database, remembering answers for a few seconds."""

    def __init__(self):
        self._identities: dict[str, tuple[float, Identity]] = {}
        self._any_token: tuple[float, bool] | None = None

    def fresh(self) -> bool:
        """True when the "any token?" answer is less than a second old."""
        return self._any_token is not None and time.monotonic() - self._any_token[0] <= 1.0

    @property
    def enabled(self) -> bool:
        """True once a token was seen in the database (auth is on)."""
        return bool(self._any_token and self._any_token[1])

    async def any_token(self, session: AsyncSession) -> bool:
        """True once the database holds an unrevoked token (then auth is on)."""
        now = time.monotonic()
        if self._any_token is not None and self._any_token[1]:
            return True  # auth never switches back off while running
        if self._any_token is None or now - self._any_token[0] > 1.0:
            count = await session.scalar(
                select(func.count()).select_from(Token).where(Token.revoked.is_(False)))
            self._any_token = (now, bool(count))
        return self._any_token[1]

    async def identify(self, session: AsyncSession, token: str) -> Identity | None:
        """The identity of ``token``, or None when it is unknown or revoked."""
        digest = hash_token(token)
        now = time.monotonic()
        cached = self._identities.get(digest)
        if cached is not None and now - cached[0] < CACHE_SECONDS:
            return cached[1]
        row = await session.scalar(select(Token).where(Token.digest == digest))
        # The digest was found by an index look-up; compare it again in
        # constant time so that the answer's timing says nothing about it.
        if row is None or row.revoked or not hmac.compare_digest(row.digest, digest):
            self._identities.pop(digest, None)
            return None
        identity = Identity(row.id, row.scope, row.name)
        if len(self._identities) > 10_000:
            self._identities.clear()
        self._identities[digest] = (now, identity)
        return identity


def bearer(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer`` header, if any.

    Raises
    ------
    HTTPException
        401 for an Authorization header of another form.
    """
    header = request.headers.get("authorization")
    if header is None:
        return None
    kind, _, value = header.partition(" ")
    if kind.lower() != "bearer" or not value.strip():
        raise HTTPException(401, "The Authorization header must be 'Bearer <token>'.",
                            headers={"WWW-Authenticate": "Bearer"})
    return value.strip()


async def authenticate(cache: TokenCache, session: AsyncSession, token: str | None) -> Identity:
    """The caller's identity; raises 401 when a token is needed and not valid."""
    if not await cache.any_token(session):
        return LOCAL
    if token is None:
        raise HTTPException(401, "This server needs a token: send 'Authorization: "
                                 "Bearer <token>' (create one with `fusionlab serve "
                                 "create-token`).", headers={"WWW-Authenticate": "Bearer"})
    identity = await cache.identify(session, token)
    if identity is None:
        raise HTTPException(401, "The token is not valid (unknown or revoked).",
                            headers={"WWW-Authenticate": "Bearer"})
    return identity


def require(scope: str):
    """A FastAPI dependency: the caller's :class:`Identity`, checked to have ``scope``.

    Raises 401 without a valid token (when tokens exist) and 403 when the
    token's scope is too weak.
    """
    if scope not in _RANK:
        raise ValueError(f"`scope` must be one of {SCOPES}; received {scope!r}.")

    async def dependency(request: Request) -> Identity:
        state = request.app.state.service
        token = bearer(request)
        cache = state.tokens
        if not cache.enabled and cache.fresh():
            identity = LOCAL  # local mode, checked less than a second ago
        else:
            async with state.sessions() as session:
                identity = await authenticate(cache, session, token)
        if not has_scope(identity, scope):
            raise HTTPException(403, f"This needs a token with scope '{scope}'; yours "
                                     f"has scope '{identity.scope}'.")
        return identity

    dependency.__name__ = f"require_{scope}"
    return dependency


#: Route parameter types: the caller, checked to hold the scope.
ReadAccess = Annotated[Identity, Depends(require("read"))]
WriteAccess = Annotated[Identity, Depends(require("write"))]
AdminAccess = Annotated[Identity, Depends(require("admin"))]
