"""Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`) decoded to JSON objects.

kubectl 1.32 and every client-go >= 0.32 program send built-in objects as protobuf. kube-apiserver
decodes such a body into the Go struct and, from then on, the object is what that struct encodes to
in JSON. `decode_protobuf` produces exactly that JSON object, so the rest of the server only ever
sees JSON.

Where the knowledge comes from (nothing is hand-written):

* **Field numbers and types**: Kubernetes' own `generated.proto` descriptors. Every kubectl binary
  embeds them (gogo-protobuf registers each file as a gzip-compressed serialized
  `FileDescriptorProto`); they are found by scanning the binary for gzip streams whose descriptor
  name starts with `k8s.io/`. The descriptors keep gogo's field options, which say whether the Go
  field is a pointer (`(gogoproto.nullable) = false` means a value field) and its Go name.
* **JSON names and `omitempty`**: the Go struct tags, read from the same binary's reflection data
  (`json:"replicas,omitempty" protobuf:"varint,1,opt,name=replicas"`): a Go struct's field array
  points at the tag strings, so each struct (package path + type name = proto file + message) gets
  its exact tags. This matters where the proto name is not the JSON name (`uID` -> `uid`), for
  inlined structs (`Volume.volumeSource`), and for fields without `omitempty` (`Role.rules`,
  `TokenRequestSpec.boundObjectRef` encode as `null`). If the binary's type data cannot be read
  (another executable format, a PIE build), the official OpenAPI definitions stand in: a property
  not in `required` is taken as `omitempty`, names are matched case-insensitively, and a message
  field that is not a property is taken as inlined.

The extraction runs once per kubectl binary (about half a second) and is cached in the user cache
dir (`$XDG_CACHE_HOME/vcluster` or `~/.cache/vcluster`), keyed by the binary's path, size and
mtime; a warm start loads the cache in about 50 ms. kubectl 1.27 to 1.34 embed the descriptors
(1.27 under vendor paths, handled); kubectl 1.35 and later no longer do (Kubernetes dropped
gogo-protobuf's descriptor registration), so a 1.32 kubectl is preferred and newer ones are useless
as a source.

JSON forms follow the Go types: `Time` is RFC 3339 in whole seconds (`null` when zero), `MicroTime`
has six fractional digits, `Duration` is Go's duration string (`1h0m0s`), `Quantity` its string,
`IntOrString` a number or a string, `RawExtension`/`FieldsV1` the embedded JSON, `bytes` base64, map
keys sorted. Zero values follow Go's `encoding/json`: a value field equal to its zero value is
dropped when the tag has `omitempty`, a pointer is dropped when absent (`null` without
`omitempty`), and a struct value is always written.

Errors use kube-apiserver's texts (`transformDecodeError` in the create/update handlers wrapping
gogo-protobuf's unmarshal errors): a corrupt object is a 400 `BadRequest`
`Deployment in version "v1" cannot be handled as a Deployment: unexpected EOF`; a kind without a
protobuf message (custom resources) is a 415 `UnsupportedMediaType` listing the JSON types.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import logging
import mmap
import os
import re
import shutil
import struct
import threading
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from vcluster.apiserver.errors import StatusError, bad_request, unsupported_media_type
from vcluster.apiserver.gostr import go_quote as _go_quote

log = logging.getLogger("vcluster.apiserver.protobuf")

PROTOBUF = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"  # protoEncodingPrefix: "k8s" + encoding style 0 (runtime.Unknown, proto2)
_JSON_TYPES = ["application/json", "application/yaml"]

# Bump when the cached files' layout or the extraction logic changes.
_CACHE_FORMAT = 1
# Prefer the kubectl that matches the API level this server implements.
PREFERRED_KUBECTL_MINOR = 32

# -------------------------------------------------------------------------------------------------
# Public API


def protobuf_available() -> bool:
    """Whether protobuf bodies can be decoded (the `protobuf` package and descriptors are there).

    The first call loads the descriptors (from the cache, or from kubectl); later calls are free.
    """
    return _codec() is not None


def warm_descriptor_cache(kubectl: str | os.PathLike[str] | None = None) -> bool:
    """Load the descriptors now (at server start) instead of on the first protobuf request.

    `kubectl` names the binary to read; by default the kubectl on PATH (see `find_kubectl`).
    Blocking (about a second when the cache is cold): run it in an executor thread.
    Returns `protobuf_available()`.
    """
    codec = _codec(Path(kubectl) if kubectl is not None else None)
    if codec is None:
        return False
    _packages_by_group_version()  # loads the OpenAPI definitions used to find message types
    return True


def message_class(full_name: str) -> Any:
    """The generated message class for a proto message full name (`k8s.io.api.core.v1.Pod`), for
    tests and tools that build protobuf bodies; None when protobuf is unavailable."""
    codec = _codec()
    return None if codec is None else codec.message_class(full_name)


def decode_protobuf(body: bytes, default_gvk: tuple[str, str, str] | None = None) -> dict[str, Any]:
    """Decode a `k8s\\0`-prefixed protobuf body into the object's JSON form (a new dict).

    `default_gvk` is (group, version, kind) of the endpoint, as kube-apiserver passes its scope's
    kind: it fills a missing kind or apiVersion, and its kind names the expected type in error
    messages. The caller still checks that the decoded kind fits the endpoint, as for JSON bodies.

    Raises StatusError: 400 BadRequest for an empty, truncated or corrupt body (kube-apiserver's
    message); 415 UnsupportedMediaType when the kind has no protobuf message (custom resources) or
    protobuf support is unavailable.
    """
    codec = _codec()
    if codec is None:
        raise unsupported_media_type(PROTOBUF, _JSON_TYPES)
    return codec.decode(bytes(body), default_gvk)


def find_kubectl() -> Path | None:
    """The kubectl binary to read descriptors from.

    `$VCLUSTER_KUBECTL` if set, else `kubectl` on PATH with symlinks resolved. When the resolved
    file sits beside versioned binaries (the Google Cloud SDK dispatcher layout: `kubectl`,
    `kubectl.1.27` ... `kubectl.1.33`), `kubectl.1.32` is preferred.
    """
    env = os.environ.get("VCLUSTER_KUBECTL")
    if env:
        p = Path(env)
        return p if p.is_file() else None
    found = shutil.which("kubectl")
    if not found:
        return None
    real = Path(os.path.realpath(found))
    preferred = real.with_name(f"kubectl.1.{PREFERRED_KUBECTL_MINOR}")
    if preferred.is_file():
        return preferred
    return real if real.is_file() else None


def cache_dir() -> Path:
    """`$XDG_CACHE_HOME/vcluster`, or `~/.cache/vcluster`."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "vcluster"


# -------------------------------------------------------------------------------------------------
# Loading: cache or extraction

_LOCK = threading.Lock()
_STATE: dict[str, Any] = {}  # "codec": _Codec | None once a load was attempted


def _codec(kubectl: Path | None = None) -> _Codec | None:
    if "codec" in _STATE and kubectl is None:
        return _STATE["codec"]
    with _LOCK:
        if "codec" in _STATE and kubectl is None:
            return _STATE["codec"]
        codec: _Codec | None = None
        try:
            codec = _load(kubectl or find_kubectl())
        except Exception as e:  # a missing package or unreadable binary only disables protobuf
            log.warning("protobuf request bodies disabled: %s", e)
        if codec is not None or "codec" not in _STATE:
            _STATE["codec"] = codec
        return _STATE["codec"]


def _reset_for_tests() -> None:
    with _LOCK:
        _STATE.clear()


def _load(binary: Path | None) -> _Codec | None:
    try:
        from google.protobuf import descriptor_pb2  # noqa: F401
    except ImportError:
        log.warning("protobuf request bodies disabled: the `protobuf` package is not installed")
        return None
    if binary is None:
        log.warning("protobuf request bodies disabled: no kubectl binary found to read descriptors from")
        return None
    st = binary.stat()
    key = hashlib.sha256(
        f"{_CACHE_FORMAT}\0{os.path.realpath(binary)}\0{st.st_size}\0{st.st_mtime_ns}".encode()
    ).hexdigest()[:20]
    fds_path = cache_dir() / f"k8s-descriptors-{key}.pb"
    tags_path = cache_dir() / f"k8s-gotags-{key}.json"
    try:
        return _Codec(fds_path.read_bytes(), orjson.loads(tags_path.read_bytes())["tags"])
    except FileNotFoundError:
        pass
    except Exception as e:  # a damaged cache is rebuilt from the binary
        log.info("ignoring the protobuf descriptor cache %s: %s", fds_path, e)
    fds_bytes, tags = extract_from_binary(binary)
    codec = _Codec(fds_bytes, tags)
    try:
        from vcluster.fsutil import write_atomic

        cache_dir().mkdir(parents=True, exist_ok=True)
        write_atomic(fds_path, fds_bytes, 0o644)
        meta = {"binary": str(binary), "format": _CACHE_FORMAT, "tags": tags}
        write_atomic(tags_path, orjson.dumps(meta), 0o644)
    except OSError as e:
        log.info("could not cache protobuf descriptors in %s: %s", cache_dir(), e)
    return codec


def extract_from_binary(binary: Path) -> tuple[bytes, dict[str, dict[str, list[Any]]]]:
    """Read a kubectl binary: a serialized FileDescriptorSet of its `k8s.io/...generated.proto`
    files, and the Go JSON tags by proto message full name ({number: [json name, omitempty]}).

    Raises ValueError when the binary embeds no Kubernetes descriptors.
    """
    from google.protobuf import descriptor_pb2

    with open(binary, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        files = _scan_descriptors(mm)
        if "k8s.io/apimachinery/pkg/runtime/generated.proto" not in files:
            raise ValueError(f"{binary} embeds no Kubernetes protobuf descriptors")
        try:
            go_tags = _scan_go_struct_tags(mm)
        except Exception as e:  # unusual layouts only lose the exact tags; OpenAPI stands in
            log.info("could not read Go struct tags from %s: %s", binary, e)
            go_tags = {}
    fset = descriptor_pb2.FileDescriptorSet()
    tags: dict[str, dict[str, list[Any]]] = {}
    for name in sorted(files):
        fdp = files[name]
        fset.file.append(fdp)
        pkg_path = name.rsplit("/", 1)[0]
        for msg in fdp.message_type:
            t = go_tags.get((pkg_path, msg.name))
            if t:
                tags[f"{fdp.package}.{msg.name}"] = {str(n): v for n, v in t.items()}
    return fset.SerializeToString(), tags


_GZIP_GO = b"\x1f\x8b\x08\x00\x00\x00\x00\x00"  # Go's compress/gzip header (no name, mtime 0)


def _scan_descriptors(data: Any) -> dict[str, Any]:
    from google.protobuf import descriptor_pb2
    from google.protobuf.message import DecodeError

    files: dict[str, Any] = {}
    i = data.find(_GZIP_GO)
    while i >= 0:
        d = zlib.decompressobj(31)
        try:
            out = d.decompress(data[i : i + (1 << 20)], 16 << 20)  # the largest file is ~40 KiB
        except zlib.error:
            out = b""
        if d.eof and out:
            try:
                fdp = descriptor_pb2.FileDescriptorProto.FromString(out)
            except DecodeError:
                fdp = None
            if fdp is not None and fdp.name.startswith("k8s.io/"):
                # Before 1.28 the files were registered under their vendor path
                # (k8s.io/kubernetes/vendor/k8s.io/api/...); the Go package paths never are.
                fdp.name = _unvendor(fdp.name)
                deps = [_unvendor(dep) for dep in fdp.dependency]
                fdp.ClearField("dependency")
                fdp.dependency.extend(deps)
                files.setdefault(fdp.name, fdp)
        i = data.find(_GZIP_GO, i + 1)
    return files


def _unvendor(name: str) -> str:
    return name.rsplit("/vendor/", 1)[-1]


# ---- Go reflection data (ELF, 64-bit little endian, non-PIE: what the official kubectl builds are)
#
# A Go struct type's runtime descriptor is abi.StructType: abi.Type (48 bytes: size, ptrdata,
# hash, tflag, align, fieldAlign, kind, equal, gcdata, str nameOff, ptrToThis) + pkgPath + fields
# slice (ptr, len, cap), followed by abi.UncommonType (pkgPath nameOff, ...) for named types. Each
# field is {name *byte, typ *Type, offset}; name points at an encoded name: flag byte (bit 1: has
# tag), uvarint length, name, uvarint length, tag. nameOffs are relative to the start of the type
# data, which the Go linker places at the start of .rodata.

_KIND_STRUCT = 25
_NAME_EMBEDDED = 0x08
_TFLAG_UNCOMMON = 1
_TFLAG_EXTRA_STAR = 2
_IDENT = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*\Z")


def _uvarint(buf: Any, i: int) -> tuple[int, int]:
    x = 0
    shift = 0
    while True:
        b = buf[i]
        i += 1
        x |= (b & 0x7F) << shift
        if b < 0x80:
            return x, i
        shift += 7
        if shift > 63:
            raise ValueError("varint overflow")


def _read_go_name(buf: Any, off: int) -> tuple[str, str]:
    flags = buf[off]
    n, i = _uvarint(buf, off + 1)
    name = bytes(buf[i : i + n]).decode("utf-8", "replace")
    i += n
    tag = ""
    if flags & 2:
        tn, i = _uvarint(buf, i)
        tag = bytes(buf[i : i + tn]).decode("utf-8", "replace")
    return name, tag


def _elf_section(data: Any, wanted: str) -> tuple[int, int, int]:
    """(virtual address, file offset, size) of an ELF64 LE section; ValueError if unsupported."""
    if bytes(data[:4]) != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ValueError("not a 64-bit little-endian ELF file")
    (e_type,) = struct.unpack_from("<H", data, 16)
    if e_type != 2:  # ET_EXEC; PIE files keep their pointers in relocations
        raise ValueError("not a non-PIE executable")
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    secs = [struct.unpack_from("<IIQQQQ", data, shoff + k * shentsize) for k in range(shnum)]
    stroff = secs[shstrndx][4]
    for name, _typ, _flags, addr, off, size in secs:
        end = data.find(b"\0", stroff + name)
        if bytes(data[stroff + name : end]).decode() == wanted:
            return addr, off, size
    raise ValueError(f"no {wanted} section")


def _scan_go_struct_tags(data: Any) -> dict[tuple[str, str], dict[int, list[Any]]]:
    """{(Go package path, type name): {proto field number: [json name, omitempty]}}."""
    base, off, size = _elf_section(data, ".rodata")
    ro = memoryview(data)[off : off + size]
    rob = bytes(ro)

    # 1. Encoded field names whose tag has a protobuf key: address -> (Go name, tag).
    blobs: dict[int, tuple[str, str, bool]] = {}
    q = rob.find(b'protobuf:"')
    while q >= 0:
        s = rob.rfind(b'json:"', max(0, q - 512), q)
        for start in (s, q) if s >= 0 else (q,):
            blob = _name_blob_at(rob, start, q)
            if blob is not None:
                addr, name, tag, embedded = blob
                blobs[base + addr] = (name, tag, embedded)
                break
        q = rob.find(b'protobuf:"', q + 1)
    if not blobs:
        raise ValueError("no tagged struct fields")

    # 2. Struct field entries {name, typ, offset} pointing at them, and the field arrays' headers.
    words = ro[: size // 8 * 8].cast("Q")
    lo, hi = min(blobs), max(blobs)
    entry_addrs = {base + k * 8 for k, v in enumerate(words) if lo <= v <= hi and v in blobs}
    end = base + size
    out: dict[tuple[str, str], dict[int, list[Any]]] = {}
    good = bad = 0
    nwords = len(words)
    for k in range(7, nwords - 2):
        ptr = words[k]
        if not base <= ptr < end:
            continue
        n = words[k + 1]
        if n == 0 or n > 512 or words[k + 2] != n:
            continue
        if not any(ptr + 24 * j in entry_addrs for j in range(min(n, 4))):
            continue
        taddr = base + k * 8 - 56  # abi.Type (48) + pkgPath (8) precede the fields slice
        t_off = taddr - base
        if t_off < 0 or ro[t_off + 23] & 0x1F != _KIND_STRUCT:
            continue
        tflag = ro[t_off + 20]
        (str_off,) = struct.unpack_from("<i", ro, t_off + 40)
        if not 0 <= str_off < size:
            continue
        tname, _ = _read_go_name(ro, str_off)
        if tflag & _TFLAG_EXTRA_STAR:
            tname = tname[1:]
        pkg = ""
        if tflag & _TFLAG_UNCOMMON:
            (pkg_off,) = struct.unpack_from("<i", ro, t_off + 80)
            if 0 <= pkg_off < size:
                pkg, _ = _read_go_name(ro, pkg_off)
        if "." not in tname or not pkg:
            bad += 1
            continue
        good += 1
        fields: dict[int, list[Any]] = {}
        for j in range(n):
            ename = words[(ptr - base) // 8 + 3 * j]
            tagged = blobs.get(ename)
            if tagged is None:
                continue
            parsed = _parse_tag(*tagged)
            if parsed is not None:
                number, json_name, omitempty = parsed
                fields[number] = [json_name, omitempty]
        if fields:
            out[(pkg, tname.rsplit(".", 1)[-1])] = fields
    if good < 10 or bad > good:
        raise ValueError("type data did not resolve to Go type names")
    return out


def _name_blob_at(rob: bytes, start: int, proto_at: int) -> tuple[int, str, str, bool] | None:
    """The encoded Go name whose tag starts at `start` (and contains `proto_at`)."""
    for k in (1, 2):
        if start - k < 2:
            return None
        try:
            tl, j = _uvarint(rob, start - k)
        except (ValueError, IndexError):
            continue
        if j != start or start + tl <= proto_at or tl > 4096 or rob[start + tl - 1] != 0x22:
            continue
        name_end = start - k
        for nl in range(1, 100):
            st = name_end - nl
            if st < 2:
                return None
            if rob[st - 1] == nl and rob[st - 2] & 0x02 and rob[st - 2] < 0x10:
                name = rob[st:name_end]
                if not _IDENT.match(name):
                    return None
                flags = rob[st - 2]
                tag = rob[start : start + tl].decode("utf-8", "replace")
                return st - 2, name.decode(), tag, bool(flags & _NAME_EMBEDDED)
        return None
    return None


def _struct_tag_get(tag: str, key: str) -> str | None:
    m = re.search(r"(?:^|\s)" + key + r':"((?:[^"\\]|\\.)*)"', tag)
    return m.group(1) if m else None


def _parse_tag(go_name: str, tag: str, embedded: bool) -> tuple[int, str, bool] | None:
    """(proto field number, JSON key, omitempty) as encoding/json reads the field; the key is ""
    for an embedded struct without a JSON name, whose fields encoding/json flattens."""
    pb = _struct_tag_get(tag, "protobuf")
    if pb is None:
        return None
    parts = pb.split(",")
    if len(parts) < 2 or not parts[1].isdigit():
        return None
    js = _struct_tag_get(tag, "json")
    opts = js.split(",") if js is not None else [""]
    key = opts[0]
    if not key and not embedded and "inline" not in opts[1:]:
        key = go_name
    return int(parts[1]), key, "omitempty" in opts[1:]


# -------------------------------------------------------------------------------------------------
# Decoding


class _ProtoError(Exception):
    """A body the Go decoder rejects; the text is gogo-protobuf's (or encoding/json's)."""


# Field shapes, from the Go type of the field.
_SCALAR = 0  # string / int / bool value: zero value dropped with omitempty
_PTR = 1  # *string, *int32, ...: absent -> dropped (omitempty) or null
_BYTES = 2  # []byte: base64; nil -> dropped or null, empty -> dropped with omitempty
_SLICE = 3  # []T
_MAP = 4  # map[string]T (keys sorted, as encoding/json writes them)
_STRUCT = 5  # T (struct value: always written, even when empty)
_PTR_STRUCT = 6  # *T

_ABSENT = object()

# Go's time.Time zero value in Unix seconds (0001-01-01T00:00:00Z).
_GO_ZERO_UNIX = -62135596800
_QUANTITY_RE = re.compile(r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$")
_QUANTITY_MESSAGE = (
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
)

_META = "k8s.io.apimachinery.pkg.apis.meta.v1."
_TIME = _META + "Time"
_MICROTIME = _META + "MicroTime"
_DURATION = _META + "Duration"
_FIELDSV1 = _META + "FieldsV1"
_RAW_EXTENSION = "k8s.io.apimachinery.pkg.runtime.RawExtension"
_UNKNOWN = "k8s.io.apimachinery.pkg.runtime.Unknown"
_TYPE_META = "k8s.io.apimachinery.pkg.runtime.TypeMeta"
_QUANTITIES = (
    "k8s.io.apimachinery.pkg.api.resource.Quantity",
    "k8s.io.apimachinery.pkg.api.resource.QuantityValue",
)
_INT_OR_STRING = "k8s.io.apimachinery.pkg.util.intstr.IntOrString"

# gogoproto field options (extensions of google.protobuf.FieldOptions).
_OPT_NULLABLE = 65001
_OPT_CUSTOMNAME = 65004


@dataclass(slots=True)
class _Field:
    number: int
    key: str  # JSON key; "" when inlined
    omitempty: bool
    shape: int
    conv: Callable[[Any], Any]  # one element / the value
    zero: Any  # a value field's zero value
    inline: bool
    sub: str = ""  # message full name for struct fields


@dataclass(slots=True)
class _Plan:
    full_name: str
    fields: list[_Field] = field(default_factory=list)
    numbers: dict[int, str] = field(default_factory=dict)  # field number -> Go field name
    wire_types: dict[int, tuple[int, ...]] = field(default_factory=dict)  # number -> accepted
    map_fields: set[int] = field(default_factory=set)
    special: Callable[[Any], Any] | None = None


class _Codec:
    """Descriptor pool, message classes and per-message conversion plans."""

    def __init__(self, fds_bytes: bytes, tags: dict[str, dict[str, list[Any]]]) -> None:
        from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
        from google.protobuf.message import DecodeError
        from google.protobuf.unknown_fields import UnknownFieldSet

        self._DecodeError = DecodeError
        self._UnknownFieldSet = UnknownFieldSet
        self._get_class = message_factory.GetMessageClass
        fset = descriptor_pb2.FileDescriptorSet.FromString(fds_bytes)
        files = {f.name: f for f in fset.file}
        pool = descriptor_pool.DescriptorPool()
        added: set[str] = set()

        def add(name: str) -> None:
            if name in added:
                return
            added.add(name)
            f = files[name]
            deps = [d for d in f.dependency if d in files]  # gogo.proto is not embedded: options stay raw
            for d in deps:
                add(d)
            f.ClearField("dependency")
            f.dependency.extend(deps)
            f.ClearField("public_dependency")
            f.ClearField("weak_dependency")
            _relax_required(f.message_type)
            pool.Add(f)

        for name in files:
            add(name)
        self._pool = pool
        self._tags = tags
        self._classes: dict[str, Any] = {}
        self._plans: dict[str, _Plan] = {}
        self._gvk_cache: dict[tuple[str, str, str], str | None] = {}
        self._unknown_cls = self._cls(_UNKNOWN)

    # ---- lookups
    def message_class(self, full_name: str) -> Any:
        return self._cls(full_name)

    def _cls(self, full_name: str) -> Any:
        cls = self._classes.get(full_name)
        if cls is None:
            cls = self._get_class(self._pool.FindMessageTypeByName(full_name))
            self._classes[full_name] = cls
        return cls

    def message_for(self, group: str, version: str, kind: str) -> str | None:
        """Proto message full name for a group/version/kind, or None."""
        key = (group, version, kind)
        if key in self._gvk_cache:
            return self._gvk_cache[key]
        name = None
        for cand in _message_candidates(group, version, kind):
            try:
                self._pool.FindMessageTypeByName(cand)
            except KeyError:
                continue
            name = cand
            break
        self._gvk_cache[key] = name
        return name

    # ---- decode
    def decode(self, body: bytes, default_gvk: tuple[str, str, str] | None) -> dict[str, Any]:
        into_kind = default_gvk[2] if default_gvk and default_gvk[2] else ""

        def unrecognized(err: str) -> StatusError:
            return bad_request(
                f"the object provided is unrecognized (must be of type {into_kind or 'Object'}): "
                f"{err} ({_summarize(body)})"
            )

        if not body:
            raise unrecognized("empty data")
        if not body.startswith(MAGIC):
            raise unrecognized(
                f"provided data does not appear to be a protobuf message, expected prefix {_GO_PREFIX}"
            )
        if len(body) == len(MAGIC):
            raise unrecognized("empty body")
        data = body[len(MAGIC) :]
        try:
            unk = self._unknown_cls.FromString(data)
            self._check_unknown_fields(unk, self._plan(_UNKNOWN))
            tm = unk.typeMeta
            self._check_unknown_fields(tm, self._plan(_TYPE_META))
        except (self._DecodeError, _ProtoError) as e:
            raise unrecognized(self._gogo_error(data, _UNKNOWN) or str(e)) from None
        api_version = _text(tm.apiVersion)
        kind = _text(tm.kind)
        group, version = _parse_group_version(api_version)
        if default_gvk is not None:
            # copyKindDefaults: a missing kind or version comes from the endpoint.
            if not kind:
                kind = default_gvk[2]
            if not version and default_gvk[1]:
                group, version = default_gvk[0], default_gvk[1]
        type_meta = (
            f"runtime.TypeMeta{{APIVersion:{_go_quote(api_version)}, Kind:{_go_quote(_text(tm.kind))}}}"
        )
        if not kind:
            raise unrecognized(f"Object 'Kind' is missing in '{type_meta}'")
        if not version:
            raise unrecognized(f"Object 'apiVersion' is missing in '{type_meta}'")
        full_name = self.message_for(group, version, kind)
        if full_name is None:
            raise unsupported_media_type(PROTOBUF, _JSON_TYPES)
        raw = bytes(unk.raw)
        try:
            try:
                msg = self._cls(full_name).FromString(raw)
            except self._DecodeError as e:
                raise _ProtoError(self._gogo_error(raw, full_name) or str(e)) from None
            obj = self.to_json(msg, self._plan(full_name))
        except _ProtoError as e:
            raise bad_request(
                f"{kind} in version {_go_quote(version)} cannot be handled as a {into_kind or kind}: {e}"
            ) from None
        except (ValueError, TypeError, OverflowError, RecursionError, UnicodeError) as e:
            raise bad_request(
                f"{kind} in version {_go_quote(version)} cannot be handled as a {into_kind or kind}: {e}"
            ) from None
        out: dict[str, Any] = {"kind": kind, "apiVersion": f"{group}/{version}" if group else version}
        obj.pop("kind", None)
        obj.pop("apiVersion", None)
        out.update(obj)
        return out

    # ---- message -> JSON
    def to_json(self, msg: Any, plan: _Plan) -> Any:
        """The JSON value of `msg` (None: the field was absent, i.e. the Go zero value)."""
        if plan.special is not None:
            return plan.special(msg)
        out: dict[str, Any] = {}
        extra: dict[int, list[bytes]] | None = None
        if msg is not None:
            present = {fd.number: v for fd, v in msg.ListFields()}
            extra = self._check_unknown_fields(msg, plan)
        else:
            present = {}
        for f in plan.fields:
            v = present.get(f.number, _ABSENT)
            shape = f.shape
            if shape == _SCALAR:
                v = f.zero if v is _ABSENT else f.conv(v)
                if f.omitempty and not v:
                    continue
                out[f.key] = v
            elif shape in (_STRUCT, _PTR_STRUCT):
                if v is _ABSENT:
                    if shape == _PTR_STRUCT:
                        if not f.omitempty and not f.inline:
                            out[f.key] = None
                        continue
                    v = None
                sub = self.to_json(v, self._plan(f.sub))
                if f.inline and isinstance(sub, dict):
                    out.update(sub)
                elif f.omitempty and not sub and self._plan(f.sub).special is _string_list:
                    continue  # an empty Go slice type (ExtraValue) with omitempty
                else:
                    out[f.key] = sub
            elif shape == _MAP and extra and f.number in extra:
                out[f.key] = self._map_with_salvaged(f, v, extra[f.number])
            elif v is _ABSENT:  # pointer, slice, map, []byte: nil
                if not f.omitempty:
                    out[f.key] = None
            elif shape == _PTR:
                out[f.key] = f.conv(v)
            elif shape == _SLICE:
                conv = f.conv
                out[f.key] = [conv(x) for x in v]
            elif shape == _MAP:
                conv = f.conv
                if len(v) == 1:
                    out[f.key] = {_text(k): conv(val) for k, val in v.items()}
                else:
                    entries = sorted(((_text(k), val) for k, val in v.items()), key=_first)
                    out[f.key] = {k: conv(val) for k, val in entries}
            else:  # _BYTES
                if f.omitempty and not v:
                    continue
                out[f.key] = f.conv(v)
        return out

    def _check_unknown_fields(self, msg: Any, plan: _Plan) -> dict[int, list[bytes]] | None:
        """Known field numbers among upb's unknown fields.

        gogo rejects a known field sent with another wire type (upb keeps it as unknown). upb also
        sets aside a map entry it finds malformed (an unexpected field inside the entry) where
        gogo skips the stray field and keeps the entry: those entries are returned by field
        number, for `_map_with_salvaged`.
        """
        if not plan.numbers:
            return None
        extra: dict[int, list[bytes]] | None = None
        for uf in self._UnknownFieldSet(msg):
            number = uf.field_number
            go_name = plan.numbers.get(number)
            if go_name is None:
                continue
            wire_types = plan.wire_types[number]
            if uf.wire_type not in wire_types:
                raise _ProtoError(f"proto: wrong wireType = {uf.wire_type} for field {go_name}")
            if number in plan.map_fields:
                if extra is None:
                    extra = {}
                extra.setdefault(number, []).append(bytes(uf.data))
        return extra

    def _map_with_salvaged(self, f: _Field, parsed: Any, entries: list[bytes]) -> dict[str, Any]:
        """A map field merged from upb's entries and the entries it set aside (later ones win, as
        in the wire order gogo reads; upb's own entries came first only when they preceded)."""
        items: dict[str, Any] = {}
        if parsed is not _ABSENT:
            for k, val in parsed.items():
                items[_text(k)] = f.conv(val)
        entry = self._pool.FindMessageTypeByName(f.sub)
        vfd = entry.fields_by_name["value"]
        for data in entries:
            key, val = self._parse_map_entry(data, vfd)
            items[key] = f.conv(val)
        return dict(sorted(items.items(), key=_first))

    def _parse_map_entry(self, data: bytes, vfd: Any) -> tuple[str, Any]:
        """gogo's map entry loop: key (1) and value (2), anything else skipped."""
        key: str = ""
        val: Any = None
        i, n = 0, len(data)
        while i < n:
            pre = i
            wire, i, err = _go_varint(data, i, n)
            if err:
                raise _ProtoError(err)
            num = _int32(wire >> 3)
            if num in (1, 2) and wire & 7 == 2:
                ln, i, err = _go_varint(data, i, n)
                if err:
                    raise _ProtoError(err)
                ln = _int64(ln)
                if ln < 0:
                    raise _ProtoError(_NEG_LEN)
                if i + ln > n:
                    raise _ProtoError(_EOF)
                chunk = data[i : i + ln]
                i += ln
                if num == 1:
                    key = _text(chunk)
                elif vfd.type == vfd.TYPE_MESSAGE:
                    try:
                        val = self._cls(vfd.message_type.full_name).FromString(chunk)
                    except self._DecodeError as e:
                        raise _ProtoError(str(e)) from None
                else:
                    val = chunk
            else:
                skippy, err = _go_skip(data, pre, n, 0)
                if err:
                    raise _ProtoError(err)
                i = pre + skippy
                if i > n:
                    raise _ProtoError(_EOF)
        if val is None:  # gogo starts from the zero value (`mapvalue := &Quantity{}`)
            val = self._cls(vfd.message_type.full_name)() if vfd.type == vfd.TYPE_MESSAGE else b""
        return key, val

    # ---- plans
    def _plan(self, full_name: str) -> _Plan:
        plan = self._plans.get(full_name)
        if plan is None:
            plan = self._build_plan(full_name)
            self._plans[full_name] = plan
        return plan

    def _build_plan(self, full_name: str) -> _Plan:
        desc = self._pool.FindMessageTypeByName(full_name)
        plan = _Plan(full_name)
        special = self._special(full_name, desc)
        if special is not None:
            plan.special = special
            return plan
        tags = self._tags.get(full_name)
        props, required = _openapi_props(full_name)
        by_lower = {p.lower(): p for p in props}
        for fd in desc.fields:
            opts = _field_options(fd.GetOptions().SerializeToString())
            nullable = opts.get(_OPT_NULLABLE, 1) != 0
            go_name = opts.get(_OPT_CUSTOMNAME) or (fd.name[:1].upper() + fd.name[1:])
            plan.numbers[fd.number] = str(go_name)
            plan.wire_types[fd.number] = _wire_types(fd)
            is_msg = fd.type == fd.TYPE_MESSAGE
            map_entry = is_msg and fd.message_type.GetOptions().map_entry
            # JSON name and omitempty: the Go tag, else the OpenAPI definition.
            tag = tags.get(str(fd.number)) if tags is not None else None
            if tag is not None:
                key, omitempty = tag[0], bool(tag[1])
                if key == "-":
                    continue
                inline = key == ""
            elif props:
                key = fd.name if fd.name in props else by_lower.get(fd.name.lower(), "")
                inline = not key and is_msg and not _repeated(fd)
                if not key and not inline:
                    key = fd.name
                omitempty = key not in required
            else:
                key, omitempty, inline = fd.name, True, False
            sub = ""
            if _repeated(fd):
                if map_entry:
                    shape = _MAP
                    conv = self._converter(fd.message_type.fields_by_name["value"])
                    sub = fd.message_type.full_name
                    plan.map_fields.add(fd.number)
                else:
                    shape = _SLICE
                    conv = self._converter(fd)
            elif fd.type == fd.TYPE_BYTES:
                shape, conv = _BYTES, _b64
            elif is_msg:
                shape = _PTR_STRUCT if nullable else _STRUCT
                sub = fd.message_type.full_name
                conv = _identity
            else:
                shape = _PTR if nullable else _SCALAR
                conv = self._converter(fd)
            zero = _zero(fd)
            plan.fields.append(_Field(fd.number, key, omitempty, shape, conv, zero, inline, sub))
        return plan

    def _converter(self, fd: Any) -> Callable[[Any], Any]:
        """JSON conversion of one value of a field (an element for repeated fields)."""
        t = fd.type
        if t == fd.TYPE_STRING:
            return _text
        if t == fd.TYPE_BYTES:
            return _b64
        if t == fd.TYPE_MESSAGE:
            sub = fd.message_type.full_name
            return lambda m: self.to_json(m, self._plan(sub))
        if t in (fd.TYPE_FLOAT, fd.TYPE_DOUBLE):
            return _float
        return _identity

    def _special(self, full_name: str, desc: Any) -> Callable[[Any], Any] | None:
        if full_name == _TIME:
            return _time_json
        if full_name == _MICROTIME:
            return _microtime_json
        if full_name == _DURATION:
            return _duration_json
        if full_name in _QUANTITIES:
            return _quantity_json
        if full_name == _INT_OR_STRING:
            return _int_or_string_json
        if full_name in (_RAW_EXTENSION, _FIELDSV1):
            return lambda m: self._raw_json(m)
        fields = desc.fields
        if (
            len(fields) == 1
            and fields[0].name == "items"
            and _repeated(fields[0])
            and (fields[0].type == fields[0].TYPE_STRING)
        ):
            return _string_list  # a Go named []string type (ExtraValue, Verbs)
        return None

    def _raw_json(self, msg: Any) -> Any:
        if msg is None:
            return None
        fields = msg.ListFields()
        raw = bytes(fields[0][1]) if fields else b""
        if not raw:
            return None  # RawExtension.MarshalJSON writes null for a nil Raw
        if raw.startswith(MAGIC):
            return self.decode(raw, None)
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError as e:
            raise _ProtoError(f"error decoding embedded object: {e}") from None

    # ---- gogo-protobuf's error for a body upb rejected
    def _gogo_error(self, data: bytes, full_name: str) -> str | None:
        if len(data) > _CHECK_LIMIT:
            return None  # a pure-Python walk of megabytes would cost seconds; upb's text is used
        try:
            return _GogoChecker(self._pool).check(data, self._pool.FindMessageTypeByName(full_name), 0)
        except (RecursionError, IndexError, KeyError):
            return None


def _relax_required(messages: Iterable[Any]) -> None:
    """Go decoders never insist on proto2 `required` fields; neither should upb."""
    for m in messages:
        for f in m.field:
            if f.label == 2:  # LABEL_REQUIRED
                f.label = 1
        _relax_required(m.nested_type)


def _message_candidates(group: str, version: str, kind: str) -> list[str]:
    out: list[str] = []
    defname = _definition_for(group, version, kind)
    if defname and defname.startswith("io.k8s."):
        out.append("k8s.io." + defname[len("io.k8s.") :])
    pkg = _packages_by_group_version().get((group, version))
    if pkg:
        out.append(f"{pkg}.{kind}")
    if group == "meta.k8s.io":  # metav1's own group: DeleteOptions, PartialObjectMetadata, ...
        out.append(f"k8s.io.apimachinery.pkg.apis.meta.{version}.{kind}")
    return out


def _definition_for(group: str, version: str, kind: str) -> str | None:
    from vcluster.apiserver.schema import definition_for

    return definition_for(group, version, kind)


@functools.cache
def _packages_by_group_version() -> dict[tuple[str, str], str]:
    """(group, version) -> proto package, from the official definitions' group-version-kinds."""
    from vcluster.apiserver.schema import gvk_index

    out: dict[tuple[str, str], str] = {}
    for (g, v, _k), name in gvk_index().items():
        if name.startswith("io.k8s.api."):
            out.setdefault((g, v), "k8s.io." + name[len("io.k8s.") :].rsplit(".", 1)[0])
    return out


@functools.cache
def _openapi_props(full_name: str) -> tuple[frozenset[str], frozenset[str]]:
    """Property names and required names of the OpenAPI definition for a proto message."""
    from vcluster.apiserver.schema import definitions

    if not full_name.startswith("k8s.io."):
        return frozenset(), frozenset()
    d = definitions().get("io.k8s." + full_name[len("k8s.io.") :])
    if not d:
        return frozenset(), frozenset()
    return frozenset(d.get("properties") or ()), frozenset(d.get("required") or ())


def _field_options(raw: bytes) -> dict[int, Any]:
    """The gogoproto options in a serialized FieldOptions (varints and strings only)."""
    out: dict[int, Any] = {}
    i, n = 0, len(raw)
    try:
        while i < n:
            key, i = _uvarint(raw, i)
            num, wt = key >> 3, key & 7
            if wt == 0:
                v, i = _uvarint(raw, i)
                out[num] = v
            elif wt == 2:
                ln, i = _uvarint(raw, i)
                out[num] = raw[i : i + ln].decode("utf-8", "replace")
                i += ln
            elif wt == 1:
                i += 8
            elif wt == 5:
                i += 4
            else:
                break
    except (ValueError, IndexError):
        pass
    return out


def _zero(fd: Any) -> Any:
    t = fd.type
    if t == fd.TYPE_STRING:
        return ""
    if t == fd.TYPE_BOOL:
        return False
    if t in (fd.TYPE_FLOAT, fd.TYPE_DOUBLE):
        return 0.0
    if t in (fd.TYPE_MESSAGE, fd.TYPE_BYTES):
        return None
    return 0


def _repeated(fd: Any) -> bool:
    """FieldDescriptor.is_repeated (protobuf >= 6), or the label older versions have."""
    flag = getattr(fd, "is_repeated", None)
    return bool(flag) if flag is not None else fd.label == 3  # LABEL_REPEATED


def _identity(v: Any) -> Any:
    return v


def _first(kv: tuple[str, Any]) -> str:
    return kv[0]


def _wire_types(fd: Any) -> tuple[int, ...]:
    """The wire types gogo's generated Unmarshal accepts for a field."""
    if fd.type in (fd.TYPE_STRING, fd.TYPE_BYTES, fd.TYPE_MESSAGE):
        return (2,)
    if fd.type in (fd.TYPE_DOUBLE, fd.TYPE_FIXED64, fd.TYPE_SFIXED64):
        return (1, 2) if _repeated(fd) else (1,)
    if fd.type in (fd.TYPE_FLOAT, fd.TYPE_FIXED32, fd.TYPE_SFIXED32):
        return (5, 2) if _repeated(fd) else (5,)
    return (0, 2) if _repeated(fd) else (0,)


def _text(v: Any) -> str:
    """A proto2 string; upb hands out bytes when they are not UTF-8 (Go's JSON writes U+FFFD)."""
    if isinstance(v, str):
        return v
    return bytes(v).decode("utf-8", "replace")


def _b64(v: Any) -> str:
    return base64.b64encode(bytes(v)).decode("ascii")


def _float(v: Any) -> Any:
    if v != v or v in (float("inf"), float("-inf")):
        raise _ProtoError(f"json: unsupported value: {v}")
    return v


def _string_list(msg: Any) -> list[str] | None:
    """A Go named `[]string` (ExtraValue, Verbs): nil when absent; gogo decodes a present value
    into `&ExtraValue{}` and appends, so an empty one is `[]`."""
    if msg is None:
        return None
    fields = msg.ListFields()
    return [_text(x) for x in fields[0][1]] if fields else []


def _timestamp(msg: Any) -> tuple[int, int] | None:
    """(seconds, nanoseconds) normalised as time.Unix does; None for the zero time."""
    if msg is None or msg.ByteSize() == 0:  # Time.Unmarshal: empty data is the zero time
        return None
    total = int(msg.seconds) * 1_000_000_000 + int(msg.nanos)
    secs, nanos = divmod(total, 1_000_000_000)
    if secs == _GO_ZERO_UNIX and nanos == 0:
        return None
    return secs, nanos


def _time_json(msg: Any) -> str | None:
    ts = _timestamp(msg)
    return None if ts is None else _rfc3339(ts[0], "")


def _microtime_json(msg: Any) -> str | None:
    ts = _timestamp(msg)
    return None if ts is None else _rfc3339(ts[0], f".{ts[1] // 1000:06d}")


def _rfc3339(secs: int, frac: str) -> str:
    """Go's `t.UTC().Format("2006-01-02T15:04:05<frac>Z07:00")` for any int64 second."""
    days, sod = divmod(secs, 86400)
    y, m, d = _civil_from_days(days)
    year = f"-{-y:04d}" if y < 0 else f"{y:04d}"
    return f"{year}-{m:02d}-{d:02d}T{sod // 3600:02d}:{sod // 60 % 60:02d}:{sod % 60:02d}{frac}Z"


def _civil_from_days(z: int) -> tuple[int, int, int]:
    """Proleptic Gregorian (year, month, day) of a day count since 1970-01-01."""
    z += 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (m <= 2), m, d


def _duration_json(msg: Any) -> str:
    return go_duration(int(msg.duration) if msg is not None else 0)


def go_duration(ns: int) -> str:
    """Go's time.Duration.String(): `1h0m0s`, `1.5s`, `100ms`, `0s`."""
    if ns == 0:
        return "0s"
    neg = ns < 0
    u = -ns if neg else ns
    if u < 1_000_000_000:
        if u < 1_000:
            s = f"{u}ns"
        elif u < 1_000_000:
            s = _frac(u, 3) + "µs"
        else:
            s = _frac(u, 6) + "ms"
    else:
        secs = u // 1_000_000_000
        frac = _frac(u, 9)
        s = f"{secs % 60}{frac[frac.index('.') :] if '.' in frac else ''}s"
        mins = secs // 60
        if mins:
            s = f"{mins % 60}m{s}"
            if mins // 60:
                s = f"{mins // 60}h{s}"
    return "-" + s if neg else s


def _frac(v: int, prec: int) -> str:
    ip, fp = divmod(v, 10**prec)
    digits = f"{fp:0{prec}d}".rstrip("0")
    return f"{ip}.{digits}" if digits else str(ip)


def _quantity_json(msg: Any) -> str:
    if msg is None or not msg.HasField("string"):
        return "0"  # the zero Quantity
    s = _text(msg.string)
    if not _QUANTITY_RE.match(s):
        raise _ProtoError(_QUANTITY_MESSAGE)
    return s


def _int_or_string_json(msg: Any) -> int | str:
    if msg is None:
        return 0
    if msg.type == 0:
        return int(msg.intVal)
    if msg.type == 1:
        return _text(msg.strVal)
    raise _ProtoError(
        "json: error calling MarshalJSON for type *intstr.IntOrString: impossible IntOrString.Type"
    )


def _parse_group_version(api_version: str) -> tuple[str, str]:
    """schema.ParseGroupVersion; an unparsable value yields an empty group-version."""
    if not api_version or api_version == "/":
        return "", ""
    n = api_version.count("/")
    if n == 0:
        return "", api_version
    if n == 1:
        g, v = api_version.split("/")
        return g, v
    return "", ""


_GO_PREFIX = "[107 56 115 0]"  # fmt's %v of []byte{0x6b, 0x38, 0x73, 0x00}


def _summarize(body: bytes, max_len: int = 30) -> str:
    """apiserver's summarizeData: hex (or text for `{`) of the first 30 bytes."""
    if not body:
        return "<empty>"
    if body[:1] == b"{":
        return body[:max_len].decode("utf-8", "replace") + (" ..." if len(body) > max_len else "")
    return body[:max_len].hex() + (" ..." if len(body) > max_len else "")


# ---- gogo-protobuf error texts, for bodies upb could not parse


_EOF = "unexpected EOF"
_OVERFLOW = "proto: integer overflow"
_NEG_LEN = "proto: negative length found during unmarshaling"
_MAX_DEPTH = 64
_CHECK_LIMIT = 512 * 1024


class _GogoChecker:
    """Walks a message the way gogo-protobuf's generated Unmarshal does and returns its first error."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool

    def check(self, data: bytes, desc: Any, depth: int) -> str | None:
        if depth > _MAX_DEPTH:
            return None
        l = len(data)  # noqa: E741 - gogo's name
        i = 0
        type_name = "Timestamp" if desc.full_name in (_TIME, _MICROTIME) else desc.name
        by_number = {f.number: f for f in desc.fields}
        while i < l:
            pre = i
            wire, i, err = _go_varint(data, i, l)
            if err:
                return err
            field_num = _int32(wire >> 3)
            wire_type = wire & 7
            if wire_type == 4:
                return f"proto: {type_name}: wiretype end group for non-group"
            if field_num <= 0:
                return f"proto: {type_name}: illegal tag {field_num} (wire type {wire})"
            f = by_number.get(field_num)
            if f is None:
                skippy, err = _go_skip(data, pre, l, 0)
                if err:
                    return err
                if pre + skippy > l:
                    return _EOF
                i = pre + skippy
                continue
            go_name = _field_options(f.GetOptions().SerializeToString()).get(_OPT_CUSTOMNAME) or (
                "String_" if desc.full_name in _QUANTITIES else f.name[:1].upper() + f.name[1:]
            )
            length_delimited = f.type in (f.TYPE_STRING, f.TYPE_BYTES, f.TYPE_MESSAGE)
            if length_delimited:
                if wire_type != 2:
                    return f"proto: wrong wireType = {wire_type} for field {go_name}"
            elif _repeated(f):
                if wire_type not in (0, 2):
                    return f"proto: wrong wireType = {wire_type} for field {go_name}"
            elif wire_type != 0:
                return f"proto: wrong wireType = {wire_type} for field {go_name}"
            if wire_type == 0:
                _, i, err = _go_varint(data, i, l)
                if err:
                    return err
                continue
            n, i, err = _go_varint(data, i, l)
            if err:
                return err
            n = _int64(n)
            if n < 0:
                return _NEG_LEN
            post = i + n
            if post > l:
                return _EOF
            if f.type == f.TYPE_MESSAGE:
                sub = f.message_type
                if sub.GetOptions().map_entry:
                    err = self._map_entry(data, i, post, l, sub, depth)
                else:
                    err = self.check(data[i:post], sub, depth + 1)
                if err:
                    return err
            elif f.type != f.TYPE_STRING and f.type != f.TYPE_BYTES:  # packed varints
                j = i
                while j < post:
                    _, j, err = _go_varint(data, j, l)
                    if err:
                        return err
            elif desc.full_name in _QUANTITIES and not _QUANTITY_RE.match(
                data[i:post].decode("utf-8", "replace")
            ):
                return _QUANTITY_MESSAGE
            i = post
        return None

    def _map_entry(self, data: bytes, i: int, post: int, l: int, entry: Any, depth: int) -> str | None:  # noqa: E741
        value = entry.fields_by_name["value"]
        while i < post:
            pre = i
            wire, i, err = _go_varint(data, i, l)
            if err:
                return err
            field_num = _int32(wire >> 3)
            if field_num in (1, 2):
                n, i, err = _go_varint(data, i, l)
                if err:
                    return err
                if field_num == 2 and value.type not in (
                    value.TYPE_STRING,
                    value.TYPE_BYTES,
                    value.TYPE_MESSAGE,
                ):
                    continue  # a varint value was just read
                n = _int64(n)
                if n < 0 or i + n < 0:
                    return _NEG_LEN
                if i + n > l:
                    return _EOF
                if field_num == 2 and value.type == value.TYPE_MESSAGE:
                    err = self.check(data[i : i + n], value.message_type, depth + 1)
                    if err:
                        return err
                i += n
            else:
                skippy, err = _go_skip(data, pre, l, 0)
                if err:
                    return err
                if pre + skippy > post:
                    return _EOF
                i = pre + skippy
        return None


def _go_varint(data: bytes, i: int, l: int) -> tuple[int, int, str | None]:  # noqa: E741
    x = 0
    shift = 0
    while True:
        if shift >= 64:
            return 0, i, _OVERFLOW
        if i >= l:
            return 0, i, _EOF
        b = data[i]
        i += 1
        x |= (b & 0x7F) << shift
        if b < 0x80:
            return x & 0xFFFFFFFFFFFFFFFF, i, None
        shift += 7


def _go_skip(data: bytes, start: int, l: int, depth: int) -> tuple[int, str | None]:  # noqa: E741
    """skipGenerated: the length of the field at `start` (relative to it), or an error."""
    if depth > _MAX_DEPTH:
        return 0, _EOF
    wire, i, err = _go_varint(data, start, l)
    if err:
        return 0, err
    wt = wire & 7
    if wt == 0:
        _, i, err = _go_varint(data, i, l)
        return (0, err) if err else (i - start, None)
    if wt == 1:
        return i + 8 - start, None
    if wt == 2:
        n, i, err = _go_varint(data, i, l)
        if err:
            return 0, err
        n = _int64(n)
        if n < 0:
            return 0, _NEG_LEN
        return i + n - start, None
    if wt == 3:
        while True:
            inner_start = i
            inner, j, err = _go_varint(data, i, l)
            if err:
                return 0, err
            if inner & 7 == 4:
                return j - start, None
            nxt, err = _go_skip(data, inner_start, l, depth + 1)
            if err:
                return 0, err
            i = inner_start + nxt
            if i > l:
                return 0, _EOF
    if wt == 4:
        return i - start, None
    if wt == 5:
        return i + 4 - start, None
    return 0, f"proto: illegal wireType {wt}"


def _int32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >= 1 << 31 else v


def _int64(v: int) -> int:
    v &= 0xFFFFFFFFFFFFFFFF
    return v - (1 << 64) if v >= 1 << 63 else v


__all__ = [
    "MAGIC",
    "PROTOBUF",
    "cache_dir",
    "decode_protobuf",
    "extract_from_binary",
    "find_kubectl",
    "go_duration",
    "message_class",
    "protobuf_available",
    "warm_descriptor_cache",
]
