"""Collection settings for the whole tree: ``pytest --doctest-modules`` runs over the packages.

Paths listed here are never imported by collection; each line says why.
"""

collect_ignore = [
    "rules/library",  # rule YAML and its unit tests (YAML), not Python
]
collect_ignore_glob = [
    "*/conftest.py",  # fixtures, loaded by pytest itself; as doctest modules they clash by name
]
