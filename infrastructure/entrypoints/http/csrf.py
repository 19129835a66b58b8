"""Cross-site request forgery: a session cookie writes only from this server's own page.

Browsers send the session cookie with requests that pages of other origins make, the other
ports of the same host included (SameSite counts only the site). So a write that the cookie
authenticates must say it comes from this origin (its Origin header, else its Referer, names
the Host the request was sent to; sending neither is refused) and carry the session's CSRF
token in ``X-CSRF-Token``: ``GET /v1/session`` hands it out, and no other origin's page can
read that answer. Requests with an API key are not authenticated by the cookie and need
neither. Requests that start a session (signing in, an anonymous first write) carry no
token yet; one sent from another origin's page is refused all the same.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import Request

from chatledger.infrastructure.entrypoints.http.problems import ProblemError
from chatledger.infrastructure.entrypoints.http.sessions import CookieSigner

TOKEN_HEADER = "X-CSRF-Token"


def check_cookie_write(request: Request, signer: CookieSigner, session_id: str) -> None:
    """Refuse (403) a write the cookie authenticates, unless from this origin with its token."""
    origin = _claimed_origin(request)
    if origin is None:
        raise _refused(
            "a write with the session cookie must send Origin (or Referer) naming this server",
            field="Origin",
        )
    _check_same_origin(request, origin)
    token = request.headers.get(TOKEN_HEADER)
    if token is None or not signer.check_csrf_token(session_id, token):
        raise _refused(
            f"a write with the session cookie must send {TOKEN_HEADER}: the csrf_token of "
            "GET /v1/session",
            field=TOKEN_HEADER,
        )


def check_not_cross_site(request: Request) -> None:
    """Refuse (403) a request a page of another origin sent; one that names none passes."""
    origin = _claimed_origin(request)
    if origin is not None:
        _check_same_origin(request, origin)


def _claimed_origin(request: Request) -> str | None:
    """The host[:port] the Origin header (else the Referer) names; "" for an opaque one."""
    for header in ("origin", "referer"):
        value = request.headers.get(header)
        if value is not None:
            parts = urlsplit(value.strip())
            return parts.netloc.lower() if parts.scheme in ("http", "https") else ""
    return None


def _check_same_origin(request: Request, origin: str) -> None:
    host = request.headers.get("host", "").lower()
    if not origin or origin != host:
        raise _refused(
            f"the request comes from a page of another origin ({origin or 'opaque'}), "
            f"not of this server ({host or 'no Host'})",
            field="Origin",
        )


def _refused(detail: str, *, field: str) -> ProblemError:
    return ProblemError(403, "cross-site-request", detail, field=field)
