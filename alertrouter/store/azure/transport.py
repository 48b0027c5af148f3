"""The storage clients' HTTP transport: azure-core's requests transport, with the exchange itself
made through urllib3 (the connection pool requests is built on) instead of a requests session.

A storage request costs the SDK about 2 ms of CPU here, and a sixth to a third of that was
requests' own layer (session settings merged, hooks, cookies, adapters) on top of urllib3, which
does the actual HTTP: pooling, TLS, timeouts. This transport keeps everything else the SDK does (its
policies, retries, error types, response classes) and hands urllib3's answer back as the
`requests.Response` the SDK's response classes read. What it does not handle itself (a streamed
download, a form or file body, a proxy) it leaves to the requests transport it extends, unchanged.

Certificates are checked against the same bundle requests would use (certifi's, or the one the
caller names with `connection_verify`), and the host name with them. It builds on azure-core's
requests transport and response classes (some in its private modules): azure-core is pinned, and
tests/store/test_azure_transport.py holds what this relies on.
"""

from __future__ import annotations

import requests
import urllib3
from azure.core.exceptions import (ServiceRequestError, ServiceRequestTimeoutError, ServiceResponseError,
                                   ServiceResponseTimeoutError)
from azure.core.pipeline._tools import handle_non_stream_rest_response, is_rest
from azure.core.pipeline.transport import RequestsTransport
from azure.core.pipeline.transport._requests_basic import RequestsTransportResponse
from azure.core.rest._requests_basic import RestRequestsTransportResponse
from requests.structures import CaseInsensitiveDict
from requests.utils import DEFAULT_CA_BUNDLE_PATH, get_encoding_from_headers
from urllib3.exceptions import (ConnectTimeoutError, NewConnectionError, ProtocolError, ReadTimeoutError, SSLError)

POOL_SIZE = 10  # connections kept per host, as requests' adapter keeps


class Urllib3Transport(RequestsTransport):
    """azure-core's `RequestsTransport`, sending through a urllib3 pool (see the module docstring)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(use_env_settings=False, **kwargs)
        verify, cert = self.connection_config.verify, self.connection_config.cert
        tls = ({"cert_reqs": "CERT_NONE"} if verify is False else
               {"cert_reqs": "CERT_REQUIRED", "ca_certs": verify if isinstance(verify, str) else DEFAULT_CA_BUNDLE_PATH})
        if cert:
            tls.update({"cert_file": cert[0], "key_file": cert[1]} if isinstance(cert, tuple) else {"cert_file": cert})
        # thread-safe, and opens no connection until a request: made once, emptied (not ended) by close
        self._pools = urllib3.PoolManager(num_pools=10, maxsize=POOL_SIZE, retries=False, **tls)

    def close(self) -> None:
        self._pools.clear()
        super().close()

    def send(self, request, *, proxies=None, **kwargs):
        data = request.data
        if (proxies or kwargs.get("stream") or request.files or not isinstance(data, (bytes, str, type(None)))
                or "connection_verify" in kwargs or "connection_cert" in kwargs):
            return super().send(request, proxies=proxies, **kwargs)
        connect = kwargs.pop("connection_timeout", self.connection_config.timeout)
        read = kwargs.pop("read_timeout", self.connection_config.read_timeout)
        if isinstance(connect, tuple):  # the deprecated (connect, read) form
            connect, read = connect
        body = data.encode("utf-8") if isinstance(data, str) else data
        headers = dict(request.headers)
        if body is None and request.method not in ("GET", "HEAD") and not any(
                k.lower() == "content-length" for k in headers):
            headers["Content-Length"] = "0"  # as requests sends it (a signed request's length is part of it)
        try:
            answer = self._pools.urlopen(request.method, request.url, body=body, headers=headers,
                                          retries=False, redirect=False, preload_content=True,
                                          timeout=urllib3.Timeout(connect=connect, read=read))
        except ConnectTimeoutError as err:
            raise ServiceRequestTimeoutError(err, error=err) from err
        except (NewConnectionError, SSLError) as err:
            raise ServiceRequestError(err, error=err) from err
        except ReadTimeoutError as err:
            raise ServiceResponseTimeoutError(err, error=err) from err
        except (ProtocolError, urllib3.exceptions.HTTPError) as err:
            raise ServiceResponseError(err, error=err) from err
        response = _requests_response(answer, request.url)
        if is_rest(request):
            done = RestRequestsTransportResponse(request=request, internal_response=response,
                                                 block_size=self.connection_config.data_block_size)
            handle_non_stream_rest_response(done)
            return done
        return RequestsTransportResponse(request, response, self.connection_config.data_block_size)


def _requests_response(answer: urllib3.BaseHTTPResponse, url: str) -> requests.Response:
    """urllib3's answer, read whole, as the `requests.Response` azure-core's response classes wrap."""
    response = requests.Response()
    response.status_code = answer.status
    response.headers = CaseInsensitiveDict(answer.headers)
    response.reason = answer.reason
    response.url = url
    response.encoding = get_encoding_from_headers(response.headers)
    response._content = answer.data  # noqa: SLF001 - read whole: what .content returns
    response._content_consumed = True  # noqa: SLF001
    response.raw = answer
    return response

