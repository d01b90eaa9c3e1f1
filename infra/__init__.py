"""Infrastructure: settings, stores, views, the projection engine and the CLI."""
