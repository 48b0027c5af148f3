"""HTTP trigger for the operator console at /api/console/…, behind App Service authentication
(Easy Auth) with Entra ID: the function is anonymous to the Functions host; the console trusts the
principal headers App Service sets (ALERTROUTER_CONSOLE__EASY_AUTH=true) and refuses everyone
otherwise."""

from __future__ import annotations

from urllib.parse import urlsplit

import azure.functions as func

from alertrouter.http.api import Request

from . import _runtime
from .api import _response

bp = func.Blueprint()


@bp.function_name("console")
@bp.route(route="console/{*path}", methods=["GET", "POST"], auth_level=func.AuthLevel.ANONYMOUS)
def console(req: func.HttpRequest) -> func.HttpResponse:
    request = Request(method=req.method, path=urlsplit(req.url).path,
                      headers={k.lower(): v for k, v in req.headers.items()}, query=dict(req.params),
                      body=req.get_body() or b"", params=dict(req.route_params))
    return _response(_runtime.console().dispatch(request))
