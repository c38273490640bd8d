# Warden's Python rule worker (after `event.py`, which defines the event): runs Panther Python rules (`rule`, `title`, `dedup`, ...) with
# Panther's event semantics. Started by warden as `python3 -I -B -c <this file>`; it speaks a
# length-prefixed protocol on stdin/stdout: each message is a 4-byte big-endian length and that
# many bytes of UTF-8 JSON. Nothing else may be written to stdout, so rules' prints go to stderr.
import ast
import contextlib
import fcntl
import gc
import importlib.abc
import importlib.util
import json
import signal
import struct
import sys
import time
import traceback
import types
import unittest.mock
from collections.abc import Mapping

_IN = sys.stdin.buffer
_OUT = sys.stdout.buffer
# Pipes of a mebibyte (Linux), so a whole message crosses in one write: with the default 64 KiB
# the worker waited on warden's writer thread once per 64 KiB of every message.
for _pipe in (_IN, _OUT):
    try:
        fcntl.fcntl(_pipe.fileno(), fcntl.F_SETPIPE_SZ, 1 << 20)
    except (AttributeError, OSError):  # pragma: no cover - not Linux, or a lower limit
        pass
sys.stdout = sys.stderr

MAX_TITLE = 1000
MAX_DEDUP = 1000
SEVERITIES = ("INFO", "LOW", "MEDIUM", "HIGH", "CRITICAL")


class RuleTimeout(BaseException):
    """Raised by SIGALRM when a call runs past its deadline (a BaseException so `except
    Exception` in a rule cannot swallow it)."""


def _on_alarm(_signum, _frame):
    deadline = STATE["deadline"]
    if deadline is not None and time.monotonic() >= deadline:
        STATE["deadline"] = None
        raise RuleTimeout()


signal.signal(signal.SIGALRM, _on_alarm)
# Ctrl-C in a terminal reaches the whole process group: Warden decides when a worker ends
# (it closes stdin or kills it), so the worker neither dies mid-call nor prints a traceback.
signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextlib.contextmanager
def _ticking():
    """SIGALRM every tick while a message is handled; a call that set `STATE["deadline"]` and
    runs past it is stopped at the next tick. One timer per message, where arming one per call
    cost two system calls an event."""
    # A tenth of the deadline, within [1 ms, 50 ms]: late by at most that, and not a storm of
    # signals for a tiny deadline.
    tick = min(0.05, max(0.001, STATE["timeout"] / 10))
    signal.setitimer(signal.ITIMER_REAL, tick, tick)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


class Failure(Exception):
    """A problem in user code, with the file and line it points at."""

    def __init__(self, message, path=None, line=None, column=None):
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line
        self.column = column

    def as_json(self):
        return {"message": self.message, "path": self.path, "line": self.line,
                "column": self.column}


STATE = {"files": set(), "helpers": {}, "rules": {}, "models": {}, "timeout": 1.0,
         "deadline": None}


def _where(exc):
    """The innermost frame of `exc`'s traceback that is in a user file."""
    path, line = None, None
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        if frame.f_code.co_filename in STATE["files"]:
            path, line = frame.f_code.co_filename, lineno
    return path, line


def _failure(exc, what):
    if isinstance(exc, Failure):
        return exc
    if isinstance(exc, RuleTimeout):
        ms = int(STATE["timeout"] * 1000)
        path, line = _where(exc)
        return Failure(f"{what} ran past its deadline ({ms} ms)", path, line)
    if isinstance(exc, SyntaxError) and exc.filename in STATE["files"]:
        return Failure(f"SyntaxError: {exc.msg}", exc.filename, exc.lineno, exc.offset)
    path, line = _where(exc)
    return Failure(f"{what} raised {type(exc).__name__}: {exc}", path, line)


class HelperFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Makes `global_helpers/*.py` importable by name, whatever order they load in."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname in STATE["helpers"]:
            return importlib.util.spec_from_loader(fullname, self, origin=STATE["helpers"][fullname][0])
        return None

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        path, source = STATE["helpers"][module.__name__]
        module.__file__ = path
        exec(compile(source, path, "exec"), module.__dict__)


sys.meta_path.insert(0, HelperFinder())


def _shim(name, **attrs):
    module = types.ModuleType(name)
    module.__dict__.update(attrs)
    sys.modules[name] = module
    return module


# Rules import Panther's event types from `panther_core` (mostly for type hints): the harness's
# own classes stand in for them, so those imports work without Panther's package.
_shim("panther_core", PantherEvent=PantherEvent)
_shim("panther_core.immutable", ImmutableCaseInsensitiveDict=ImmutableCaseInsensitiveDict,
      ImmutableList=ImmutableList)
_shim("panther_core.enriched_event", PantherEvent=PantherEvent)
sys.modules["panther_core"].immutable = sys.modules["panther_core.immutable"]
sys.modules["panther_core"].enriched_event = sys.modules["panther_core.enriched_event"]
SHIMS = {"panther_core"}


def check_imports(source, path, strict):
    """Every import must be the standard library or a global helper (with `strict` false, an
    installed package too); the first that is not is a Failure at its line."""
    tree = ast.parse(source, path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top in sys.stdlib_module_names or top in STATE["helpers"] or top in SHIMS:
                continue
            if not strict and importlib.util.find_spec(top) is not None:
                continue
            raise Failure(
                f"import of `{name}`: not in Python's standard library nor a global helper",
                path,
                node.lineno,
                node.col_offset + 1,
            )


def _load_module(name, path, source, strict):
    STATE["files"].add(path)
    try:
        check_imports(source, path, strict)
        module = types.ModuleType(name)
        module.__file__ = path
        STATE["deadline"] = time.monotonic() + STATE["timeout"] * 10
        try:
            exec(compile(source, path, "exec"), module.__dict__)
        finally:
            STATE["deadline"] = None
        return module
    except BaseException as exc:  # noqa: B902 - user code may raise anything
        raise _failure(exc, "loading the module") from None


FUNCTIONS = ("title", "dedup", "severity", "alert_context", "description", "reference",
             "runbook", "destinations")


def op_load(msg, _body):
    STATE["timeout"] = msg.get("timeout_ms", 1000) / 1000.0
    for helper in msg.get("helpers", []):
        STATE["files"].add(helper["path"])
        STATE["helpers"][helper["name"]] = (helper["path"], helper["source"])
    # Helpers are imported when a rule imports them: an unused helper's imports are not checked
    # (a Panther repository has helpers for tools this deployment may not have installed).
    errors = []
    for model in msg.get("models", []):
        try:
            module = None
            if model.get("source") is not None:
                module = _load_module("_model_" + model["id"], model["path"], model["source"], True)
            methods, paths, raw_paths = {}, {}, {}
            for m in model["mappings"]:
                if m.get("method"):
                    if module is None or not callable(getattr(module, m["method"], None)):
                        raise Failure(f"data model method `{m['method']}` is not defined", model["path"])
                    methods[m["name"]] = getattr(module, m["method"])
                elif m.get("path"):
                    paths[m["name"]] = _split_path(m["path"])
                    raw_paths[m["name"]] = m["path"]
            for log_type in model["log_types"]:
                STATE["models"][log_type] = DataModel(paths, methods, raw_paths)
        except Failure as f:
            errors.append({"id": model["id"], **f.as_json()})
    for rule in msg.get("rules", []):
        try:
            module = _load_module("_rule_" + rule["id"], rule["path"], rule["source"], True)
            if not callable(getattr(module, "rule", None)):
                raise Failure("the module defines no `rule(event)` function", rule["path"])
            # The optional functions it defines, found once (Mocks patch only existing names).
            module.__warden_functions__ = [n for n in FUNCTIONS if callable(getattr(module, n, None))]
            STATE["rules"][rule["id"]] = (module, rule["severity"])
        except Failure as f:
            errors.append({"id": rule["id"], **f.as_json()})
    # What was loaded lives as long as the worker: out of the collector's sight from now on.
    gc.freeze()
    return {"errors": errors}


def _call(module, name, event, types_, default):
    fn = getattr(module, name, None)
    if fn is None:
        return default
    value = fn(event)
    if types_ is not None and value is not None and not isinstance(value, types_):
        want = " or ".join(t.__name__ for t in (types_ if isinstance(types_, tuple) else (types_,)))
        raise Failure(f"`{name}` returned {type(value).__name__}, expected {want}")
    return value


def _outputs(module, default_severity, event):
    """Panther's alert functions after a match; an error in one is raised with its name."""
    out = {}
    for name in module.__warden_functions__:
        try:
            if name == "alert_context":
                # What JSON cannot hold is found when the answer is encoded (`_encode`).
                value = _call(module, name, event, Mapping, None)
            elif name == "destinations":
                value = _call(module, name, event, (list, tuple), None)
                value = None if value is None else [str(v) for v in value]
            elif name == "severity":
                value = _call(module, name, event, str, None)
                if value is not None:
                    value = value.upper()
                    if value == "DEFAULT":
                        value = default_severity
                    elif value not in SEVERITIES:
                        raise Failure(f"`severity` returned `{value}`, not a severity")
            else:
                value = _call(module, name, event, None, None)
                value = None if value is None else str(value)
                if name == "title" and value is not None:
                    value = value[:MAX_TITLE]
                if name == "dedup" and value is not None:
                    value = value[:MAX_DEDUP]
            out[name] = value
        except BaseException as exc:  # noqa: B902
            f = _failure(exc, f"`{name}`")
            raise Failure(f.message, f.path, f.line) from None
    return out


def _event(body, data, unread=()):
    return PantherEvent(data, STATE["models"].get(data.get("p_log_type")), unread, body)


def _run(rule_id, event):
    if rule_id not in STATE["rules"]:
        return {"error": {"message": "the rule did not load", "path": None, "line": None}}
    module, severity = STATE["rules"][rule_id]
    STATE["deadline"] = time.monotonic() + STATE["timeout"]
    try:
        try:
            matched = module.rule(event)
        except BaseException as exc:  # noqa: B902
            return {"error": _failure(exc, "`rule`").as_json()}
        if not isinstance(matched, bool):
            return {"error": {"message": f"`rule` returned {type(matched).__name__}, expected bool",
                              "path": module.__file__, "line": None}}
        if not matched:
            return 0
        try:
            return {"match": _outputs(module, severity, event)}
        except Failure as f:
            return {"match": {}, "error": f.as_json()}
    finally:
        STATE["deadline"] = None


def op_eval(msg, body):
    # Each event is `[fields, unread]`: its object and array fields are ranges of the body's
    # JSON text (see `PantherEvent`). One event serves every rule: it is immutable.
    rules = msg["rules"]
    results = []
    for data, unread in msg["events"]:
        event = _event(body, data, unread)
        results.append([_run(r, event) for r in rules])
    return {"results": results}


def op_test(msg, body):
    if msg["rule"] not in STATE["rules"]:
        return {"result": _run(msg["rule"], _event(body, *msg["event"]))}
    module, _ = STATE["rules"][msg["rule"]]
    patches = {}
    for mock in msg.get("mocks", []):
        patches[mock["objectName"]] = unittest.mock.MagicMock(return_value=mock["returnValue"])
    if patches:
        missing = [name for name in patches if not hasattr(module, name)]
        if missing:
            return {"result": {"error": {
                "message": f"Mocks name `{missing[0]}`, which the rule's module does not define",
                "path": module.__file__, "line": None}}}
        with unittest.mock.patch.multiple(module, **patches):
            return {"result": _run(msg["rule"], _event(body, *msg["event"]))}
    return {"result": _run(msg["rule"], _event(body, *msg["event"]))}


OPS = {"load": op_load, "eval": op_eval, "test": op_test}


def _encode(reply):
    """The answer as JSON. Only `alert_context` can hold what JSON cannot (a NaN, a cycle, a
    key that is not a string): when the whole answer fails, each such context becomes that
    match's error and the rest is kept, so one bad context costs one event, not the batch."""
    try:
        return json.dumps(reply, default=_plain, allow_nan=False).encode()
    except (TypeError, ValueError, RecursionError):
        pass
    results = reply.get("results") or [[reply.get("result")]]
    for per_rule in results:
        for i, result in enumerate(per_rule):
            context = result.get("match", {}).get("alert_context") if isinstance(result, dict) else None
            if context is None:
                continue
            try:
                json.dumps(context, default=_plain, allow_nan=False)
            except (TypeError, ValueError, RecursionError) as exc:
                message = f"`alert_context` returned what JSON cannot hold: {exc}"
                per_rule[i] = {"match": {}, "error": Failure(message).as_json()}
    if "result" in reply:
        reply["result"] = results[0][0]
    return json.dumps(reply, default=_plain, allow_nan=False).encode()


def _read_exact(n):
    data = _IN.read(n)
    if data is None or len(data) < n:
        sys.exit(0)
    return data


def main():
    while True:
        (length,) = struct.unpack(">I", _read_exact(4))
        # The body is the events' nested JSON text, a newline, then the request (`protocol.rs`).
        body = _read_exact(length)
        msg = _loads(body[body.rfind(b"\n") + 1:])
        # The collector is off while a message is handled: a batch's events and answers are
        # thousands of live objects, and each pass of the collector walked them all (a third
        # of the time). What a batch leaves is freed by reference counts, cycles after it.
        gc.disable()
        try:
            with _ticking():
                reply = OPS[msg["op"]](msg, body)
        except BaseException as exc:  # noqa: B902 - the worker answers whatever happens
            if isinstance(exc, SystemExit):
                raise
            reply = {"fatal": f"{type(exc).__name__}: {exc}"}
        finally:
            gc.enable()
        data = _encode(reply)
        _OUT.write(struct.pack(">I", len(data)) + data)
        _OUT.flush()


main()
