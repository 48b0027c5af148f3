"""HTTP triggers: /api/eventgrid (Event Grid webhook), /api/alerts (Action Groups), /api/health."""

from __future__ import annotations

import azure.functions as func

from alertrouter.http_api import Request, Response

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


@bp.function_name("eventgrid_webhook")
@bp.route(route="eventgrid", methods=["POST", "OPTIONS"])
def eventgrid_webhook(req: func.HttpRequest) -> func.HttpResponse:
    return _response(_runtime.api().eventgrid(_request(req)))


@bp.function_name("monitor_alerts")
@bp.route(route="alerts", methods=["POST"])
def monitor_alerts(req: func.HttpRequest) -> func.HttpResponse:
    return _response(_runtime.api().alerts(_request(req)))


@bp.function_name("acknowledge")
@bp.route(route="ack", methods=["GET", "HEAD", "POST"], auth_level=func.AuthLevel.ANONYMOUS)  # the signed token is the key
def acknowledge(req: func.HttpRequest) -> func.HttpResponse:
    return _response(_runtime.api().ack(_request(req)))


@bp.function_name("silences")
@bp.route(route="silences", methods=["GET", "POST"])
def silences(req: func.HttpRequest) -> func.HttpResponse:
    return _response(_runtime.api().silences(_request(req)))


@bp.function_name("expire_silence")
@bp.route(route="silences/{id}/expire", methods=["POST"])
def expire_silence(req: func.HttpRequest) -> func.HttpResponse:
    return _response(_runtime.api().expire_silence(_request(req)))


@bp.function_name("health")
@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def health(req: func.HttpRequest) -> func.HttpResponse:
    return _response(_runtime.api().health(_request(req)))
