"""Which store methods the contract suite covers: `@covers("claim", "finish")` on a test that runs on
every store (it takes the `store` fixture). test_contract_coverage.py checks the registry against
the role protocols, so a method added to a role without a contract test fails the suite."""

from __future__ import annotations

from typing import Callable

COVERED: dict[str, list[Callable]] = {}  # method name -> the contract tests that exercise it


def covers(*methods: str) -> Callable[[Callable], Callable]:
    """Register the decorated test as a contract test of `methods`."""
    def register(test: Callable) -> Callable:
        for name in methods:
            COVERED.setdefault(name, []).append(test)
        return test
    return register
