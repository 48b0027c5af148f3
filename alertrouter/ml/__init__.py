"""Routing that knows ML work: runs that hang, pipelines that stopped running."""
