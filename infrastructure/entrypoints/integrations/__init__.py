"""Adapters for the frameworks LLM apps are built with, each importable only with its extra.

``chatledger.integrations.langchain`` (``pip install 'chatledger[langchain]'``),
``chatledger.integrations.openai_agents`` (``chatledger[agents]``) and
``chatledger.integrations.pydantic_ai`` (``chatledger[pydantic-ai]``). This package imports none
of them: a framework is imported only by its own adapter's module, when that is imported.
"""
