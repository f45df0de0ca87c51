"""The HTTP server: REST API v1 under /api/v1, built by :func:`cairn.server.app.create_app`."""
