# Panther's event as rules see it: a case-insensitive, immutable mapping (`PantherEvent`) with
# `get`, `deep_get`, `deep_walk`, `udm` through data models and `udm_path`. The first part of the
# worker program: warden runs `event.py` and `harness.py` as one (`pool::HARNESS`).
import json
import re
from collections.abc import Mapping, Sequence

try:  # Faster decoding when the machine has it; the standard library otherwise.
    from orjson import loads as _loads
except ImportError:  # pragma: no cover - depends on the machine
    _loads = json.loads


def _freeze(value):
    if isinstance(value, dict):
        return ImmutableCaseInsensitiveDict(value)
    if isinstance(value, list):
        return ImmutableList(value)
    return value


def _read_only(*_args, **_kwargs):
    raise TypeError("the event is immutable")


class ImmutableList(list):
    """A list inside an event: a `list` to `isinstance` (rules test for it), read-only, its
    mappings case-insensitive too."""

    def __init__(self, items):
        super().__init__(_freeze(v) for v in items)

    __setitem__ = __delitem__ = __iadd__ = __imul__ = _read_only
    append = extend = insert = pop = remove = clear = sort = reverse = _read_only

    def copy(self):
        return list(self)


class ImmutableCaseInsensitiveDict(Mapping):
    """Panther's event mapping: keys match exactly first, then ignoring case; read-only."""

    __slots__ = ("_data", "_lower", "_cache")

    def __init__(self, data):
        self._data = data
        self._lower = None
        self._cache = {}

    def _key(self, key):
        if key in self._data:
            return key
        if not isinstance(key, str):
            return None
        if self._lower is None:
            self._lower = {}
            for k in self._data:
                if isinstance(k, str):
                    self._lower.setdefault(k.lower(), k)
        return self._lower.get(key.lower())

    def _value(self, real):
        """The value under the real key `real`, frozen once."""
        value = _freeze(self._data[real])
        self._cache[real] = value
        return value

    def __getitem__(self, key):
        cache = self._cache
        if key in cache:
            return cache[key]
        real = self._key(key)
        if real is None:
            raise KeyError(key)
        return cache[real] if real in cache else self._value(real)

    def __contains__(self, key):
        return self._key(key) is not None

    def get(self, key, default=None):
        # The exact key read before is the common case: one lookup.
        cache = self._cache
        if key in cache:
            return cache[key]
        real = self._key(key)
        if real is None:
            return default
        return cache[real] if real in cache else self._value(real)

    def __iter__(self):
        return iter(self._data)

    def __len__(self):
        return len(self._data)

    def __repr__(self):
        return repr(self._data)

    def __setitem__(self, key, value):
        raise TypeError("the event is immutable")

    def __delitem__(self, key):
        raise TypeError("the event is immutable")

    def copy(self):
        return dict(self._data)

    def to_dict(self):
        return self._data


def _deep_get(obj, keys, default):
    for key in keys:
        if type(obj) not in _MAPPINGS and not isinstance(obj, Mapping):
            return default
        obj = obj.get(key)
        if obj is None:
            return default
    return obj


def _is_list(value):
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def _all_empty(value):
    return _is_list(value) and all(_all_empty(v) for v in value)


def _deep_walk(obj, keys, default, return_val):
    if not keys:
        return default if _all_empty(obj) else obj
    if isinstance(obj, Mapping):
        nxt = obj.get(keys[0])
        return default if nxt is None else _deep_walk(nxt, keys[1:], default, return_val)
    found = {}
    if _is_list(obj):
        for item in obj:
            value = _deep_walk(item, keys, default, return_val)
            if value is None:
                continue
            for v in value if _is_list(value) else (value,):
                try:
                    found[v] = None
                except TypeError:
                    found[json.dumps(v, default=_plain, sort_keys=True)] = None
    values = list(found)
    if not values:
        return default
    if return_val == "first":
        return values[0]
    if return_val == "last":
        return values[-1]
    return values[0] if len(values) == 1 else values


class PantherEvent(ImmutableCaseInsensitiveDict):
    """The event a rule sees: `get`, `deep_get`, `deep_walk` and `udm` through data models."""

    __slots__ = ("_model", "_unread", "_body")

    def __init__(self, data, model=None, unread=(), body=b""):
        super().__init__(data)
        self._model = model
        # Warden sends an event's object and array fields as `[start, end]` ranges of the
        # message's JSON text (`unread` names them): each is parsed when a rule first reads
        # it, so a rule that looks at two fields of a large event never pays for the rest.
        self._unread = set(unread) if unread else None
        self._body = body

    def _parse(self, real):
        start, end = self._data[real]
        self._data[real] = _loads(self._body[start:end])

    def _value(self, real):
        unread = self._unread
        if unread and real in unread:
            unread.discard(real)
            self._parse(real)
        return super()._value(real)

    def to_dict(self):
        if self._unread:
            for key in self._unread:
                self._parse(key)
            self._unread = None
        return self._data

    def copy(self):
        return dict(self.to_dict())

    def __repr__(self):
        return repr(self.to_dict())

    def deep_get(self, *keys, default=None):
        return _deep_get(self, keys, default)

    def deep_walk(self, *keys, default=None, return_val="all"):
        return _deep_walk(self, keys, default, return_val)

    def udm_path(self, name):
        """The data model's `Path` for `name` (without `$.`), or None."""
        model = self._model
        if model is None or name not in model.raw_paths:
            return None
        path = model.raw_paths[name].strip()
        return path[2:] if path.startswith("$.") else path

    def udm(self, *keys, default=None):
        model = self._model
        if model is not None and len(keys) == 1:
            name = keys[0]
            if name in model.methods:
                value = model.methods[name](self)
                return default if value is None else value
            if name in model.paths:
                value = _path_get(self, model.paths[name])
                return default if value is None else value
        return _deep_get(self, ("p_udm",) + tuple(keys), default)


_SEGMENT = re.compile(r"([^.\[\]]+)|\[(\d+|\*)\]")


def _split_path(path):
    path = path.strip()
    if path.startswith("$"):
        path = path[1:]
    segments = []
    for name, index in _SEGMENT.findall(path):
        if name:
            segments.append(name.strip("'\""))
        elif index == "*":
            segments.append(None)
        else:
            segments.append(int(index))
    return segments


def _path_get(obj, segments):
    for i, seg in enumerate(segments):
        if seg is None:
            if not _is_list(obj):
                return None
            rest = [_path_get(v, segments[i + 1:]) for v in obj]
            rest = [v for v in rest if v is not None]
            return rest or None
        if isinstance(seg, int):
            if not _is_list(obj) or seg >= len(obj):
                return None
            obj = obj[seg]
        elif isinstance(obj, Mapping):
            obj = obj.get(seg)
        else:
            return None
        if obj is None:
            return None
    return obj


def _plain(value):
    if isinstance(value, ImmutableCaseInsensitiveDict):
        return value.to_dict()
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    return str(value)


class DataModel:
    def __init__(self, paths, methods, raw_paths):
        self.paths = paths
        self.methods = methods
        self.raw_paths = raw_paths


# The event's own mappings, known without asking `Mapping`'s ABC machinery (a third of a
# `deep_get` was that check).
_MAPPINGS = frozenset((ImmutableCaseInsensitiveDict, PantherEvent, dict))
