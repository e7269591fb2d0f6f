"""Request and response bodies of the API: ``XCreate`` / ``XUpdate`` / ``XOut``, never ORM rows."""
