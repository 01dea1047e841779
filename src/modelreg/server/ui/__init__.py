"""The web UI: server-rendered pages over the registry, served by ``modelreg serve`` beside the JSON API."""
