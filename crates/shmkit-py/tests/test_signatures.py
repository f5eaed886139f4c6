"""Signatures as ``help()`` shows them: permission bits in octal (``mode=0o600``, not
``mode=384``), ``open_timeout`` on every open, the Rust names only, and the same parameters
and defaults as the type stubs."""

from __future__ import annotations

import ast
import inspect
import pydoc
from pathlib import Path

import shmkit

PACKAGE = Path(shmkit.__file__).parent
# Where each module's stubs are.
STUBS = {
    "shmkit": "_shmkit.pyi",
    "shmkit.channel": "channel.pyi",
    "shmkit.broadcast": "broadcast.pyi",
    "shmkit.sync": "sync.pyi",
    "shmkit.service": "service.pyi",
}
# Every function that creates something, and so takes ``mode``.
CREATORS = {
    "shmkit.Segment.create",
    "shmkit.channel.create_producer",
    "shmkit.channel.create_consumer",
    "shmkit.channel.open_or_create_producer",
    "shmkit.channel.open_or_create_consumer",
    "shmkit.broadcast.create_publisher",
    "shmkit.sync.Mutex.create",
    "shmkit.sync.Mutex.open_or_create",
    "shmkit.sync.Event.create",
    "shmkit.sync.Semaphore.create",
    "shmkit.sync.Shared.create",
    "shmkit.sync.Shared.open_or_create",
    "shmkit.service.create_server",
}
# Every function that opens an existing object, and so takes ``open_timeout``.
OPENERS = {
    "shmkit.Segment.open",
    "shmkit.channel.open_consumer",
    "shmkit.channel.open_producer",
    "shmkit.broadcast.open_subscriber",
    "shmkit.sync.Mutex.open",
    "shmkit.sync.Event.open",
    "shmkit.sync.Semaphore.open",
    "shmkit.sync.Shared.open",
    "shmkit.service.open_client",
}


def public_callables():
    """(module name, qualified name, callable) for every public function and method."""
    for module_name in STUBS:
        module = __import__(module_name, fromlist=["_"])
        for name in module.__all__:
            obj = getattr(module, name)
            if isinstance(obj, type):
                for attr in vars(obj):
                    if not attr.startswith("_") and callable(getattr(obj, attr)):
                        yield module_name, f"{name}.{attr}", getattr(obj, attr)
            elif callable(obj) and not isinstance(obj, type):
                yield module_name, name, obj


def stub(module_name: str, qualname: str) -> ast.FunctionDef:
    tree = ast.parse((PACKAGE / STUBS[module_name]).read_text())
    *outer, name = qualname.split(".")
    body = tree.body
    for cls in outer:
        body = next(n for n in body if isinstance(n, ast.ClassDef) and n.name == cls).body
    return next(n for n in body if isinstance(n, ast.FunctionDef) and n.name == name)


def test_mode_defaults_read_in_octal():
    assert shmkit.DEFAULT_MODE == 0o600 and repr(shmkit.DEFAULT_MODE) == "0o600"
    assert str(shmkit.DEFAULT_MODE) == "384" and f"{shmkit.DEFAULT_MODE:o}" == "600"
    found = set()
    for module_name, qualname, f in public_callables():
        try:
            sig = inspect.signature(f)
        except ValueError:
            continue  # no text signature (e.g. a property's getter)
        if "mode" not in sig.parameters:
            continue
        found.add(f"{module_name}.{qualname}")
        assert sig.parameters["mode"].default == 0o600, (qualname, sig)
        assert "mode=0o600" in str(sig), (qualname, sig)
        assert "mode=0o600" in pydoc.render_doc(f), qualname  # what help() prints
    assert found == CREATORS


def test_every_open_takes_open_timeout_and_waits_by_default_not_at_all():
    found = set()
    for module_name, qualname, f in public_callables():
        try:
            sig = inspect.signature(f)
        except ValueError:
            continue
        if "open_timeout" in sig.parameters:
            found.add(f"{module_name}.{qualname}")
            p = sig.parameters["open_timeout"]
            assert p.kind is p.KEYWORD_ONLY and p.default is None, (qualname, sig)
    assert found == OPENERS


def test_no_old_names_are_left():
    assert not hasattr(shmkit.channel, "create") and not hasattr(shmkit.channel, "open")
    assert not hasattr(shmkit.broadcast, "create") and not hasattr(shmkit.broadcast, "subscribe")
    assert not hasattr(shmkit.broadcast.Publisher, "subscriber_count")
    sides = (shmkit.channel.Producer, shmkit.channel.Consumer)
    sides += (shmkit.broadcast.Publisher, shmkit.broadcast.Subscriber)
    for cls in sides:
        assert hasattr(cls, "set_wait_strategy") and hasattr(cls, "wait_strategy")
        assert not hasattr(cls, "set_wait_mode")
    for module_name, qualname, f in public_callables():
        try:
            sig = inspect.signature(f)
        except ValueError:
            continue
        assert "wait" not in sig.parameters, (qualname, sig)


def test_text_signatures_match_the_stubs():
    checked = 0
    for module_name, qualname, f in public_callables():
        try:
            sig = inspect.signature(f)
        except ValueError:
            continue
        if f"{module_name}.{qualname}" not in CREATORS | OPENERS:
            continue
        args = stub(module_name, qualname).args
        stubbed = [a.arg for a in args.posonlyargs + args.args if a.arg not in ("self", "cls")]
        stubbed += ["*"] + [a.arg for a in args.kwonlyargs] if args.kwonlyargs else []
        shown = []
        for p in sig.parameters.values():
            if p.kind is p.KEYWORD_ONLY and "*" not in shown:
                shown.append("*")
            shown.append(p.name)
        assert shown == stubbed, (qualname, sig)
        defaults = dict(zip([a.arg for a in args.args][::-1], args.defaults[::-1]))
        defaults |= {a.arg: d for a, d in zip(args.kwonlyargs, args.kw_defaults) if d}
        for name, node in defaults.items():
            value = ast.literal_eval(node)
            if value is not Ellipsis:
                assert sig.parameters[name].default == value, (qualname, name, sig)
        checked += 1
    assert checked == len(CREATORS | OPENERS)
