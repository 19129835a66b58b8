"""Entrypoints: the command line, the HTTP service and its page, and the demo.

They use the library as its users do, through ``ChatLedger``.
"""
