"""The HTTP interface: the surface and its one route table (api), shared by the Functions handlers and
the local server (server); who may post (auth), the local server's Host/Origin check (hostguard), and
the acknowledge link's page (ack_page)."""
