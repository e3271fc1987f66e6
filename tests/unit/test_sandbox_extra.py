"""The modules whose absence means "install the sandbox extra" are what that extra brings, read from the installed
packages' metadata: moto and what moto (with the extras we ask for) requires, less what the tool's own
dependencies install anyway (those, like our own modules, missing is a bug, not a missing extra)."""

from __future__ import annotations

from importlib.metadata import distribution, packages_distributions

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from migrator.cli.sandbox import SANDBOX_EXTRA_MODULES

OWN = "aws-auth-migrate"


def requirements(name: str, extras: frozenset[str] = frozenset()) -> list[Requirement]:
    """What distribution `name` requires when installed with `extras` (its markers read for this machine)."""
    found = []
    for line in distribution(name).requires or []:
        requirement = Requirement(line)
        marker = requirement.marker
        if marker is None or any(marker.evaluate({"extra": extra}) for extra in extras | {""}):
            found.append(requirement)
    return found


def installed_closure(roots: list[Requirement]) -> set[str]:
    """The canonical names of every installed distribution `roots` pull in, with the extras asked of them."""
    seen: dict[str, frozenset[str]] = {}
    todo = list(roots)
    while todo:
        requirement = todo.pop()
        name, extras = canonicalize_name(requirement.name), frozenset(requirement.extras)
        if extras <= seen.get(name, frozenset()) and name in seen:
            continue
        seen[name] = seen.get(name, frozenset()) | extras
        todo += requirements(name, seen[name])
    return set(seen)


def modules_of(names: set[str]) -> set[str]:
    return {
        module
        for module, providers in packages_distributions().items()
        if module.isidentifier() and not module.startswith("_") and {canonicalize_name(p) for p in providers} & names
    }


def test_the_extra_modules_are_what_the_sandbox_extra_brings_beyond_the_core() -> None:
    core = installed_closure(requirements(OWN))
    (moto,) = [r for r in requirements(OWN, frozenset({"sandbox"})) if canonicalize_name(r.name) not in core]
    assert canonicalize_name(moto.name) == "moto"
    brought = {"moto"} | {canonicalize_name(r.name) for r in requirements("moto", frozenset(moto.extras))}
    assert {"flask", "werkzeug", "cryptography"} <= brought  # read with the extras: [server] is there
    assert modules_of(brought - core) == SANDBOX_EXTRA_MODULES
    assert not SANDBOX_EXTRA_MODULES & (modules_of(core) | {"migrator"})
