"""Storage: the eventsourcing application, our recorder, serialization, sealing and keys.

One backend object per database kind (``backends.backend_for(url)``) answers everything
that differs by database. Nothing here knows the services or entrypoints above it.
"""
