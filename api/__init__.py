"""HTTP API: create_app(settings), one router per resource."""
