"""The REST API (``/api/v1``): thin FastAPI routes over ``clm.services``.

``clm.app.create_app`` mounts it; nothing here opens a database or reads settings at import
time. ``docs/api.md`` describes authentication, the one error shape and each resource.
"""
