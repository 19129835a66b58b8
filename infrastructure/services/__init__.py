"""Services: recording, reading, audit, governance, verification and transfer.

Each takes the narrow parts of storage it needs (the event store, the key directory, the
reading service), never the whole ledger; ``ChatLedger`` is the facade that wires them.
"""
