"""Azure Functions entry point: triggers and bindings only; the work is in alertrouter/."""

import azure.functions as func

from handlers import api, console, deliveries, digest, eventgrid

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
app.register_functions(eventgrid.bp)
app.register_functions(api.bp)
app.register_functions(deliveries.bp)
app.register_functions(digest.bp)
app.register_functions(console.bp)
