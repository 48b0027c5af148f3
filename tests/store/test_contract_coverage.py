"""The contract suite covers every method of every store role, on every store, and every store
(SQLite, Azure, in memory) implements every role in full (each method with the protocol's parameters)."""

from __future__ import annotations

import inspect

from alertrouter.store.azure import AzureStore
from alertrouter.store.base import ROLES, Store
from alertrouter.store.memory import MemoryStore
from alertrouter.store.sqlite import SqliteStore
from tests.store import test_console_queries, test_contract, test_contract_roles  # noqa: F401  (they register)
from tests.store.conftest import STORE_FIXTURES
from tests.store.contract import COVERED


def methods(role) -> list[str]:
    return [name for name, value in vars(role).items() if inspect.isfunction(value) and not name.startswith("_")]


ROLE_METHODS = {m: role for role in ROLES for m in methods(role)}


def test_every_method_of_every_role_has_a_contract_test():
    missing = [f"{role.__name__}.{m}" for m, role in ROLE_METHODS.items() if not COVERED.get(m)]
    assert missing == [], f"no contract test (@covers) for {', '.join(missing)}"


def test_the_registry_names_only_role_methods():
    assert sorted(set(COVERED) - set(ROLE_METHODS)) == []


def test_contract_tests_run_on_every_store():
    assert set(STORE_FIXTURES) == {"sqlite_store", "azure_store", "memory_store"}
    single = sorted({t.__name__ for tests in COVERED.values() for t in tests
                     if "store" not in inspect.signature(t).parameters})
    assert single == [], "a contract test must take the `store` fixture (every store)"


def test_store_is_the_union_of_the_roles():
    assert all(role in Store.__mro__ for role in ROLES)
    assert methods(Store) == []  # nothing of its own: every method belongs to a role
    assert len(ROLE_METHODS) == sum(len(methods(role)) for role in ROLES)  # no method in two roles


def test_every_store_implements_every_role_in_full():
    for cls in (SqliteStore, AzureStore, MemoryStore):
        for name, role in ROLE_METHODS.items():
            impl = getattr(cls, name, None)
            assert callable(impl), f"{cls.__name__} lacks {role.__name__}.{name}"
            want = list(inspect.signature(getattr(role, name)).parameters)
            assert list(inspect.signature(impl).parameters) == want, f"{cls.__name__}.{name}"
