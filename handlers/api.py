"""HTTP triggers: one function per route of the API's route table (alertrouter/http/api.py ROUTES)
that the Functions host serves: /api/eventgrid (Event Grid webhook), /api/alerts (Action Groups),
/api/ack, /api/silences, /api/health."""

from __future__ import annotations

import azure.functions as func

from alertrouter.http.api import ROUTES, HttpRoute, Request, Response

from . import _runtime

bp = func.Blueprint()


def _request(req: func.HttpRequest) -> Request:
    return Request(
        method=req.method,
        path=req.url,
        headers={k.lower(): v for k, v in req.headers.items()},
        query=dict(req.params),
        body=req.get_body() or b"",
        params=dict(req.route_params),
    )


def _response(resp: Response) -> func.HttpResponse:
    headers = dict(resp.headers)
    mimetype = headers.pop("Content-Type", None) or "text/plain"
    return func.HttpResponse(resp.body, status_code=resp.status, headers=headers, mimetype=mimetype)


def _register(route: HttpRoute) -> None:
    """The route's function on the blueprint: its name, route, methods and auth level from the table."""
    def handle(req: func.HttpRequest) -> func.HttpResponse:
        return _response(route.handler(_runtime.api(), _request(req)))

    handle.__name__ = handle.__qualname__ = route.function
    level = func.AuthLevel.ANONYMOUS if route.anonymous else func.AuthLevel.FUNCTION
    bp.function_name(route.function)(
        bp.route(route=route.function_route, methods=list(route.methods), auth_level=level)(handle))


for _route in ROUTES:
    if _route.function:
        _register(_route)
