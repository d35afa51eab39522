#!/usr/bin/env python3
"""An Alibaba Cloud OSS-compatible object server for testing ossfs.

Standard library only.  Run ``ossserver.py --help`` for the options and see
README.md beside this file for the admin API.

Design notes
------------
* Threads: one thread per connection (ThreadingHTTPServer, daemon threads,
  HTTP/1.1 keep-alive).  Every response carries Content-Length so clients can
  reuse connections; latency sleeps happen in the connection's own thread and
  never block other clients.
* Storage: ``<root>/<bucket>/objects/<h[:2]>/<h>.data`` plus a JSON sidecar
  ``<h>.json`` where h = sha256(key), so any key (unicode, '%', '?', 1023
  bytes, 'a' next to 'a/b', 'dir/') maps to a safe file name.  Data files are
  never modified in place: writes stream into ``<bucket>/tmp`` and are renamed
  into place while the bucket lock is held, and readers look the record up and
  open the data file under the same lock.  So a reader always streams exactly
  the bytes its record describes, even while the key is being overwritten, and
  a copy can simply be a hard link.  An in-memory sorted key index is rebuilt
  from the sidecars at start-up.
* Signatures are verified by recomputing, from the *decoded* request, what a
  correct client computes (OSS V1, OSS V4, AWS S3 V4; header and presigned
  forms), and SignatureDoesNotMatch errors echo the server's StringToSign so a
  client bug can be diagnosed from the response alone.
* Faults (503, 500, reset, truncate, stall) come from scripted rules or a
  seeded random rate.  Error faults replace the operation; body faults
  (reset/truncate/stall) damage the response of an operation that was carried
  out, which is the nastier case a client has to survive.
* CRC-64/ECMA (x-oss-hash-crc64ecma) equals CRC-64/XZ, which liblzma exports
  as lzma_crc64; we call it through ctypes because a pure-Python CRC runs at a
  few MB/s.  The pure-Python table code is the fallback when liblzma is absent.
"""

import argparse
import base64
import bisect
import ctypes
import ctypes.util
import email.utils
import functools
import hashlib
import hmac
import http.server
import ipaddress
import json
import os
import random
import re
import shutil
import socket
import struct
import sys
import threading
import time
import urllib.parse
import uuid
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape as xml_escape

CHUNK = 1 << 20                 # read/write unit for bodies
MAX_SINGLE_PUT = 5 << 30        # OSS limit for PutObject / UploadPart
MAX_XML_BODY = 4 << 20          # request bodies we parse as XML
DRAIN_LIMIT = 16 << 20          # unread bodies larger than this close the connection
SKEW_LIMIT_S = 15 * 60
OWNER_ID = "1234567890123456"

# --------------------------------------------------------------------------
# CRC-64/ECMA-182 (reflected poly 0xC96C5795D7870F42, init/xorout all ones)

_CRC64_POLY = 0xC96C5795D7870F42
_CRC64_MASK = (1 << 64) - 1


def _crc64_table():
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ _CRC64_POLY if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC64_TABLE = _crc64_table()


def _crc64_python(data, crc=0):
    crc ^= _CRC64_MASK
    table = _CRC64_TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ _CRC64_MASK


def _load_lzma_crc64():
    for name in (ctypes.util.find_library("lzma"), "liblzma.so.5"):
        if not name:
            continue
        try:
            fn = ctypes.CDLL(name).lzma_crc64
        except (OSError, AttributeError):
            continue
        fn.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint64]
        fn.restype = ctypes.c_uint64
        return fn
    return None


_LZMA_CRC64 = _load_lzma_crc64()


def crc64_update(crc, data):
    """CRC of (previous data + data), given the CRC of the previous data."""
    if _LZMA_CRC64 is not None:
        return _LZMA_CRC64(bytes(data), len(data), crc)
    return _crc64_python(data, crc)


def _gf2_times(mat, vec):
    total, i = 0, 0
    while vec:
        if vec & 1:
            total ^= mat[i]
        vec >>= 1
        i += 1
    return total


def _gf2_square(mat):
    return [_gf2_times(mat, row) for row in mat]


def crc64_combine(crc1, crc2, len2):
    """CRC of A||B from crc(A), crc(B) and len(B) (zlib's crc32_combine)."""
    if len2 <= 0:
        return crc1
    odd = [_CRC64_POLY] + [1 << n for n in range(63)]  # one zero bit
    even = _gf2_square(odd)                               # two zero bits
    odd = _gf2_square(even)                               # four zero bits
    while True:
        even = _gf2_square(odd)
        if len2 & 1:
            crc1 = _gf2_times(even, crc1)
        len2 >>= 1
        if not len2:
            break
        odd = _gf2_square(even)
        if len2 & 1:
            crc1 = _gf2_times(odd, crc1)
        len2 >>= 1
        if not len2:
            break
    return crc1 ^ crc2


# --------------------------------------------------------------------------
# small helpers

def http_date(ts):
    return email.utils.formatdate(ts, usegmt=True)


@functools.lru_cache(maxsize=1 << 16)
def iso8601(ts):
    # Cached: a LIST page formats 1,000 of them, and the same ones again
    # for every client that lists the directory.
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + ".%03dZ" % (int(ts * 1000) % 1000)


def parse_http_date(value):
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def parse_iso_basic(value):
    """20231216T162057Z -> unix time, or None."""
    m = re.fullmatch(r"(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z", value or "")
    if not m:
        return None
    import calendar
    try:
        return calendar.timegm(tuple(int(g) for g in m.groups()) + (0, 0, 0))
    except (ValueError, OverflowError):
        return None


def uri_encode(text, keep_slash=False):
    """Percent-encode every byte but A-Z a-z 0-9 - _ . ~ (and '/' if asked)."""
    return urllib.parse.quote(text, safe="/~" if keep_slash else "~")


def new_request_id():
    return uuid.uuid4().hex[:24].upper()


def strip_etag(value):
    return (value or "").strip().strip('"').upper()


def el(tag, value):
    """One XML element with escaped text."""
    return "<%s>%s</%s>" % (tag, xml_escape(str(value)), tag)


def xml_response(root, parts):
    body = '<?xml version="1.0" encoding="UTF-8"?>\n<%s>\n%s\n</%s>\n' % (
        root, "\n".join(parts), root)
    return body.encode("utf-8")


def is_ip(host):
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


BUCKET_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")


# --------------------------------------------------------------------------
# errors

# code -> (HTTP status, message, EC)
ERRORS = {
    "AccessDenied": (403, "You have no right to access this object.", "0003-00000001"),
    "BadDigest": (400, "The Content-MD5 you specified did not match what we received.",
                  "0003-00000204"),
    "InvalidObjectState": (403, "The operation is not valid for the object's state",
                           "0016-00000201"),
    "BucketAlreadyExists": (409, "The requested bucket name is not available.", "0015-00000104"),
    "BucketNotEmpty": (409, "The bucket you tried to delete is not empty.", "0015-00000301"),
    "EntityTooLarge": (400, "Your proposed upload exceeds the maximum allowed size.",
                       "0003-00000205"),
    "EntityTooSmall": (400, "Your proposed upload smaller than the minimum allowed size.",
                       "0042-00000213"),
    "FileAlreadyExists": (409, "The object you specified already exists and can not be "
                          "overwritten.", "0026-00000002"),
    "InternalError": (500, "We encountered an internal error. Please try again.",
                      "0007-00000001"),
    "InvalidAccessKeyId": (403, "The OSS Access Key Id you provided does not exist in our "
                           "records.", "0002-00000005"),
    "InvalidArgument": (400, "Invalid argument.", "0017-00000001"),
    "InvalidBucketName": (400, "The specified bucket is not valid.", "0015-00000001"),
    "InvalidDigest": (400, "The Content-MD5 you specified is not valid.", "0003-00000203"),
    "InvalidObjectName": (400, "The specified object is not valid.", "0016-00000001"),
    "InvalidPart": (400, "One or more of the specified parts could not be found or the "
                    "specified entity tag might not have matched the part's entity tag.",
                    "0042-00000201"),
    "InvalidPartOrder": (400, "The list of parts was not in ascending order.",
                         "0042-00000202"),
    "InvalidRange": (416, "The requested range cannot be satisfied", "0003-00000002"),
    "InvalidRequest": (400, "Invalid request.", "0017-00000002"),
    "InvalidTargetType": (400, "The symbolic's target file type is invalid",
                          "0026-00000011"),
    "KeyTooLong": (400, "Your key is too long.", "0016-00000002"),
    "MalformedXML": (400, "The XML you provided was not well-formed or did not validate "
                     "against our published schema.", "0017-00000003"),
    "MethodNotAllowed": (405, "The specified method is not allowed against this resource.",
                         "0017-00000004"),
    "MissingContentLength": (411, "You must provide the Content-Length HTTP header.",
                             "0017-00000005"),
    "NoSuchBucket": (404, "The specified bucket does not exist.", "0015-00000101"),
    "NoSuchKey": (404, "The specified key does not exist.", "0026-00000001"),
    "NoSuchUpload": (404, "The specified upload does not exist. The upload ID may be "
                     "invalid, or the upload may have been aborted or completed.",
                     "0042-00000002"),
    "NotImplemented": (501, "A header you provided implies functionality that is not "
                       "implemented.", "0017-00000006"),
    "NotSymlink": (400, "The specified object is not a symlink.", "0026-00000010"),
    "PreconditionFailed": (412, "At least one of the pre-conditions you specified did not "
                           "hold.", "0026-00000003"),
    "RequestTimeTooSkewed": (403, "The difference between the request time and the current "
                             "time is too large.", "0002-00000504"),
    "SecurityTokenExpired": (403, "The security token you provided has expired.",
                             "0002-00000007"),
    "ServiceUnavailable": (503, "Please reduce your request rate.", "0004-00000302"),
    "SignatureDoesNotMatch": (403, "The request signature we calculated does not match the "
                              "signature you provided. Check your key and signing method.",
                              "0002-00000040"),
    "SymlinkTargetNotExist": (404, "The symlink target object does not exist",
                              "0026-00000012"),
    "XAmzContentSHA256Mismatch": (400, "The provided 'x-amz-content-sha256' header does not "
                                  "match what was computed.", "0002-00000427"),
}


class OssError(Exception):
    """An error answered to the client in OSS's XML shape."""

    def __init__(self, code, message=None, extra=None, headers=None, status=None):
        base_status, base_message, ec = ERRORS.get(code, (400, code, "0000-00000000"))
        super().__init__(code)
        self.code = code
        self.status = status or base_status
        self.message = message or base_message
        self.ec = ec
        self.extra = extra or []        # [(tag, text)] emitted after HostId
        self.headers = headers or []

    def to_xml(self, request_id, host_id):
        parts = [el("Code", self.code), el("Message", self.message),
                 el("RequestId", request_id), el("HostId", host_id)]
        parts += [el(tag, text) for tag, text in self.extra]
        parts += [el("EC", self.ec),
                  el("RecommendDoc", "https://api.aliyun.com/troubleshoot?q=" + self.ec)]
        return xml_response("Error", parts)


class ClientGone(Exception):
    """The peer went away mid-request; the connection is dropped quietly."""


# --------------------------------------------------------------------------
# storage

def _write_json(path, obj):
    tmp = "%s.%s.tmp" % (path, uuid.uuid4().hex)
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f)
    os.replace(tmp, path)


def _prefix_end(prefix):
    """Smallest string greater than every string that starts with prefix."""
    last = ord(prefix[-1])
    if last >= 0x10FFFF:
        return None
    return prefix[:-1] + chr(last + 1)


class Bucket:
    """One bucket: objects, the sorted key index and multipart uploads.

    Object records are plain dicts that are replaced, never mutated, once
    published, so they can be handed out without copying.
    """

    def __init__(self, root, name, created=None):
        self.name = name
        self.path = os.path.join(root, name)
        self.lock = threading.RLock()   # guards keys, objects, uploads and the files
        self.keys = []                  # sorted; str order == UTF-8 byte order
        self.objects = {}
        self.uploads = {}               # upload id -> {"info": {...}, "parts": {n: {...}}}
        self.created = created or time.time()

    # ---- layout
    def _obj_base(self, key):
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
        return os.path.join(self.path, "objects", digest[:2], digest)

    def data_path(self, key):
        return self._obj_base(key) + ".data"

    def upload_dir(self, upload_id):
        return os.path.join(self.path, "uploads", upload_id)

    def new_tmp(self):
        return os.path.join(self.path, "tmp", uuid.uuid4().hex)

    # ---- start-up
    def create_dirs(self):
        for sub in ("objects", "uploads", "tmp"):
            os.makedirs(os.path.join(self.path, sub), exist_ok=True)
        info = os.path.join(self.path, "bucket.json")
        if os.path.exists(info):
            with open(info, encoding="utf-8") as f:
                self.created = json.load(f).get("created", self.created)
        else:
            _write_json(info, {"name": self.name, "created": self.created})

    def load(self):
        self.create_dirs()
        shutil.rmtree(os.path.join(self.path, "tmp"), ignore_errors=True)
        os.makedirs(os.path.join(self.path, "tmp"), exist_ok=True)
        objdir = os.path.join(self.path, "objects")
        for sub in os.listdir(objdir):
            for name in os.listdir(os.path.join(objdir, sub)):
                if name.endswith(".json"):
                    self._load_record(os.path.join(objdir, sub, name))
        self.keys = sorted(self.objects)
        updir = os.path.join(self.path, "uploads")
        for upload_id in os.listdir(updir):
            self._load_upload(upload_id)

    def _load_record(self, path):
        try:
            with open(path, encoding="utf-8") as f:
                rec = json.load(f)
        except (OSError, ValueError):
            return
        if rec.get("type") != "Symlink" and not os.path.exists(path[:-5] + ".data"):
            return  # crashed between data and sidecar; the object never existed
        self.objects[rec["key"]] = rec

    def _load_upload(self, upload_id):
        d = self.upload_dir(upload_id)
        try:
            with open(os.path.join(d, "upload.json"), encoding="utf-8") as f:
                info = json.load(f)
        except (OSError, ValueError):
            shutil.rmtree(d, ignore_errors=True)
            return
        parts = {}
        for name in os.listdir(d):
            if name.endswith(".json") and name != "upload.json":
                try:
                    with open(os.path.join(d, name), encoding="utf-8") as f:
                        part = json.load(f)
                    parts[part["number"]] = part
                except (OSError, ValueError, KeyError):
                    pass
        self.uploads[upload_id] = {"info": info, "parts": parts}

    # ---- objects
    def get(self, key):
        with self.lock:
            return self.objects.get(key)

    def open_data(self, key):
        """(record, open data file or None) looked up atomically."""
        with self.lock:
            rec = self.objects.get(key)
            if rec is None or rec["type"] == "Symlink":
                return rec, None
            return rec, open(self.data_path(key), "rb")

    def commit(self, rec, data_tmp=None, forbid_overwrite=False):
        """Publish rec; data_tmp (if any) becomes the object's bytes.

        Without data_tmp a non-symlink keeps its current bytes (metadata update).
        """
        key = rec["key"]
        base = self._obj_base(key)
        with self.lock:
            if forbid_overwrite and key in self.objects:
                raise OssError("FileAlreadyExists")
            os.makedirs(os.path.dirname(base), exist_ok=True)
            if data_tmp is not None:
                os.replace(data_tmp, base + ".data")
            elif rec["type"] == "Symlink":
                try:
                    os.unlink(base + ".data")
                except FileNotFoundError:
                    pass
            _write_json(base + ".json", rec)
            if key not in self.objects:
                bisect.insort(self.keys, key)
            self.objects[key] = rec

    def link_data(self, key, dest):
        """Hard-link key's data file to dest (a copy that costs nothing)."""
        with self.lock:
            rec = self.objects.get(key)
            if rec is None:
                raise OssError("NoSuchKey")
            if rec["type"] != "Symlink":
                os.link(self.data_path(key), dest)
            return rec

    def delete(self, key):
        with self.lock:
            if self.objects.pop(key, None) is None:
                return False
            del self.keys[bisect.bisect_left(self.keys, key)]
            base = self._obj_base(key)
            for suffix in (".json", ".data"):
                try:
                    os.unlink(base + suffix)
                except FileNotFoundError:
                    pass
            return True

    def is_empty(self):
        with self.lock:
            return not self.objects and not self.uploads

    def stat(self):
        with self.lock:
            size = sum(r["size"] for r in self.objects.values() if r["type"] != "Symlink")
            newest = max((r["mtime"] for r in self.objects.values()), default=self.created)
            parts = sum(len(u["parts"]) for u in self.uploads.values())
            return {"storage": size, "objects": len(self.objects),
                    "uploads": len(self.uploads), "parts": parts, "newest": newest}

    def list_page(self, prefix, delimiter, after, max_keys):
        """One listing page: ([(key, rec)], [common prefix], truncated, last entry).

        Entries (keys and common prefixes) are strictly greater than `after`;
        a common prefix not greater than `after` was already returned on an
        earlier page, so everything under it is skipped.
        """
        with self.lock:
            keys = self.keys
            i = bisect.bisect_left(keys, prefix)
            if after:
                i = max(i, bisect.bisect_right(keys, after))
            contents, prefixes, last = [], [], None
            while i < len(keys) and keys[i].startswith(prefix):
                if len(contents) + len(prefixes) >= max_keys:
                    return contents, prefixes, True, last
                key = keys[i]
                cut = key.find(delimiter, len(prefix)) if delimiter else -1
                if cut < 0:
                    contents.append((key, self.objects[key]))
                    last = key
                    i += 1
                    continue
                common = key[:cut + len(delimiter)]
                if not after or common > after:
                    prefixes.append(common)
                    last = common
                i = self._skip_prefix(i, common)
            return contents, prefixes, False, last

    def _skip_prefix(self, i, common):
        end = _prefix_end(common)
        if end is not None:
            return bisect.bisect_left(self.keys, end, i)
        while i < len(self.keys) and self.keys[i].startswith(common):
            i += 1
        return i

    # ---- multipart uploads
    def create_upload(self, info):
        upload_id = uuid.uuid4().hex.upper()
        d = self.upload_dir(upload_id)
        os.makedirs(d)
        info = dict(info, upload_id=upload_id)
        _write_json(os.path.join(d, "upload.json"), info)
        with self.lock:
            self.uploads[upload_id] = {"info": info, "parts": {}}
        return upload_id

    def get_upload(self, upload_id, key):
        with self.lock:
            up = self.uploads.get(upload_id)
            if up is None or up["info"]["key"] != key:
                raise OssError("NoSuchUpload", extra=[("UploadId", upload_id)])
            return up

    def commit_part(self, upload_id, key, part, data_tmp):
        with self.lock:
            up = self.get_upload(upload_id, key)
            d = self.upload_dir(upload_id)
            n = part["number"]
            os.replace(data_tmp, os.path.join(d, "%d.data" % n))
            _write_json(os.path.join(d, "%d.json" % n), part)
            up["parts"][n] = part

    def open_parts(self, upload_id, key, numbers):
        """Open the data files of the given parts while they cannot change."""
        with self.lock:
            self.get_upload(upload_id, key)
            d = self.upload_dir(upload_id)
            return [open(os.path.join(d, "%d.data" % n), "rb") for n in numbers]

    def drop_upload(self, upload_id):
        with self.lock:
            self.uploads.pop(upload_id, None)
            shutil.rmtree(self.upload_dir(upload_id), ignore_errors=True)


class Store:
    """All buckets under one root directory."""

    def __init__(self, root):
        self.root = root
        self.lock = threading.Lock()
        self.buckets = {}
        os.makedirs(root, exist_ok=True)
        for name in sorted(os.listdir(root)):
            if os.path.isfile(os.path.join(root, name, "bucket.json")):
                bucket = Bucket(root, name)
                bucket.load()
                self.buckets[name] = bucket

    def get(self, name):
        with self.lock:
            return self.buckets.get(name)

    def create(self, name):
        with self.lock:
            if name in self.buckets:
                return self.buckets[name], False
            bucket = Bucket(self.root, name)
            bucket.create_dirs()
            self.buckets[name] = bucket
            return bucket, True

    def remove(self, name):
        with self.lock:
            bucket = self.buckets.get(name)
            if bucket is None:
                raise OssError("NoSuchBucket", extra=[("BucketName", name)])
            if not bucket.is_empty():
                raise OssError("BucketNotEmpty", extra=[("BucketName", name)])
            del self.buckets[name]
        shutil.rmtree(bucket.path, ignore_errors=True)

    def names(self):
        with self.lock:
            return sorted(self.buckets)


# --------------------------------------------------------------------------
# runtime state: credentials, knobs, faults, counters

class Credentials:
    """AccessKeyId -> (secret, security token or None); replaceable at runtime."""

    def __init__(self, specs):
        self.lock = threading.Lock()
        self.table = {}
        self.replace(specs)

    @staticmethod
    def parse(spec):
        parts = spec.split(":", 2)
        if len(parts) < 2 or not parts[0] or not parts[1]:
            raise ValueError("credential must be AK:SK[:TOKEN]: %r" % spec)
        return parts[0], (parts[1], parts[2] if len(parts) == 3 and parts[2] else None)

    def replace(self, specs):
        table = dict(self.parse(s) for s in specs)
        with self.lock:
            self.table = table

    def lookup(self, access_key_id):
        with self.lock:
            return self.table.get(access_key_id)

    def describe(self):
        with self.lock:
            return sorted(self.table)


class Config:
    """Knobs adjustable at runtime through POST /_admin/config."""

    FIELDS = {"latency_ms": float, "bandwidth_bps": int, "stall_s": float,
              "min_part_size": int, "clock_offset_s": float, "allow_anonymous": bool}

    def __init__(self, args):
        self.region = args.region
        self.latency_ms = args.latency_ms
        self.bandwidth_bps = args.bandwidth_bps
        self.stall_s = args.stall_s
        self.min_part_size = args.min_part_size
        self.clock_offset_s = 0.0       # pretend the server clock is off (skew tests)
        self.allow_anonymous = args.allow_anonymous

    def update(self, values):
        for name, value in values.items():
            if name not in self.FIELDS:
                raise ValueError("unknown config field %r" % name)
            setattr(self, name, self.FIELDS[name](value))

    def as_dict(self):
        return {name: getattr(self, name) for name in self.FIELDS}

    def now(self):
        return time.time() + self.clock_offset_s


FAULT_KINDS = ("503", "500", "403", "archived", "reset", "truncate", "stall")
# "archived": what OSS answers a GET of an Archive object not restored.
ERROR_FAULTS = {"503": "ServiceUnavailable", "500": "InternalError",
                "403": "AccessDenied", "archived": "InvalidObjectState"}


class Faults:
    """Scripted fault rules plus a seeded random fault rate."""

    def __init__(self, rate=0.0, kinds=(), ops=None, seed=None):
        self.lock = threading.Lock()
        self.rules = []
        self.rate = 0.0
        self.kinds = []
        self.ops = None
        self.rng = random.Random(seed)
        self.configure({"rate": rate, "kinds": list(kinds), "ops": ops})

    @staticmethod
    def _check_kind(kind):
        if kind not in FAULT_KINDS:
            raise ValueError("unknown fault kind %r (use %s)" % (kind, ",".join(FAULT_KINDS)))
        return kind

    def configure(self, cfg):
        """Fields present in cfg replace the current ones."""
        with self.lock:
            if "rules" in cfg:
                rules = []
                for rule in cfg["rules"] or []:
                    self._check_kind(str(rule["kind"]))
                    rules.append({"op": rule.get("op"), "kind": str(rule["kind"]),
                                  "count": int(rule.get("count", 1)),
                                  "key_prefix": rule.get("key_prefix", ""),
                                  "bucket": rule.get("bucket")})
                self.rules = rules
            if "rate" in cfg:
                self.rate = float(cfg["rate"] or 0.0)
            if "kinds" in cfg:
                self.kinds = [self._check_kind(str(k)) for k in cfg["kinds"] or []]
            if "ops" in cfg:
                self.ops = set(cfg["ops"]) if cfg["ops"] else None
            if cfg.get("seed") is not None:
                self.rng.seed(cfg["seed"])

    def describe(self):
        with self.lock:
            return {"rules": [dict(r) for r in self.rules], "rate": self.rate,
                    "kinds": list(self.kinds), "ops": sorted(self.ops) if self.ops else None}

    def pick(self, op, bucket, key):
        """The fault to inject into this request, or None."""
        with self.lock:
            for rule in self.rules:
                if rule["op"] not in (None, "*", op):
                    continue
                if rule["bucket"] not in (None, bucket):
                    continue
                if not (key or "").startswith(rule["key_prefix"] or ""):
                    continue
                rule["count"] -= 1
                if rule["count"] <= 0:
                    self.rules.remove(rule)
                return rule["kind"]
            if self.rate > 0 and self.kinds and (self.ops is None or op in self.ops):
                if self.rng.random() < self.rate:
                    return self.rng.choice(self.kinds)
        return None


class _NullStats:
    """Stands in for Stats where traffic must not be counted (admin calls)."""

    def add(self, field, n=1):
        pass


NULL_STATS = _NullStats()


class Stats:
    """Counters exposed by GET /_admin/stats."""

    def __init__(self):
        self.lock = threading.Lock()
        self.current = 0
        self.reset()

    def reset(self):
        with self.lock:
            self.requests = {}
            self.errors = {}
            self.total = 0
            self.bytes_in = 0
            self.bytes_out = 0
            self.peak = self.current
            self.faults = 0
            self.auth_failures = 0
            self.connections = 0
            self.auth_schemes = {}

    def begin(self):
        with self.lock:
            self.current += 1
            self.peak = max(self.peak, self.current)

    def end(self):
        with self.lock:
            self.current -= 1

    def count(self, op):
        with self.lock:
            self.requests[op] = self.requests.get(op, 0) + 1
            self.total += 1

    def add(self, field, n=1):
        with self.lock:
            setattr(self, field, getattr(self, field) + n)

    def error(self, code):
        with self.lock:
            self.errors[code] = self.errors.get(code, 0) + 1

    def scheme(self, name):
        with self.lock:
            self.auth_schemes[name] = self.auth_schemes.get(name, 0) + 1

    def snapshot(self):
        with self.lock:
            return {"requests": dict(self.requests), "total": self.total,
                    "bytes_in": self.bytes_in, "bytes_out": self.bytes_out,
                    "peak_concurrent": self.peak, "current_concurrent": self.current,
                    "faults_injected": self.faults, "auth_failures": self.auth_failures,
                    "errors": dict(self.errors), "connections": self.connections,
                    "auth_schemes": dict(self.auth_schemes)}


# --------------------------------------------------------------------------
# signature verification

# Query parameters that are part of the V1 CanonicalizedResource (plus any
# name starting with "x-oss-"), from the SDKs' lists (oss-protocol.md §2.3).
V1_SUBRESOURCES = frozenset("""
acl append bucketInfo continuation-token delete location objectMeta partNumber position
restore security-token stat symlink tagging uploadId uploads versionId versioning versions
callback callback-var sequential resourceGroup cors lifecycle logging website referer
response-content-type response-content-language response-expires response-cache-control
response-content-disposition response-content-encoding
""".split())

V4_DEFAULT_SIGNED = ("content-type", "content-md5")


class Principal:
    def __init__(self, access_key_id, scheme):
        self.access_key_id = access_key_id
        self.scheme = scheme            # v1, v4, s3v4, presign-v1, presign-v4, presign-s3, anonymous

    @property
    def is_s3(self):
        return "s3" in self.scheme


def _collect_headers(headers, wanted):
    """{lower name: [trimmed values]} for header names accepted by wanted()."""
    out = {}
    for name, value in headers.items():
        lname = name.lower()
        if wanted(lname):
            out.setdefault(lname, []).append(value.strip())
    return out


def _auth_params(text):
    """'Credential=a/b, SignedHeaders=x;y, Signature=z' -> dict."""
    params = {}
    for item in text.split(","):
        name, _, value = item.strip().partition("=")
        if name:
            params[name] = value.strip()
    return params


def _string_bytes(text):
    return " ".join("%02X" % b for b in text.encode("utf-8"))


def v1_canonical_resource(req):
    resource = "/"
    if req.bucket:
        resource += req.bucket + "/" + (req.key or "")
    subs = sorted((n, v) for n, v, _ in req.query
                  if n in V1_SUBRESOURCES or n.startswith("x-oss-"))
    if subs:
        resource += "?" + "&".join(n + "=" + v if v else n for n, v in subs)
    return resource


def v1_string_to_sign(req, date_slot):
    oss = _collect_headers(req.headers, lambda n: n.startswith("x-oss-"))
    canon = "".join("%s:%s\n" % (n, ",".join(v)) for n, v in sorted(oss.items()))
    return "%s\n%s\n%s\n%s\n%s%s" % (
        req.method, req.headers.get("Content-MD5", ""), req.headers.get("Content-Type", ""),
        date_slot, canon, v1_canonical_resource(req))


def v1_signature(secret, string_to_sign):
    mac = hmac.new(secret.encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode("ascii")


def v4_additional_headers(req, listed):
    present = {n.lower() for n in req.headers.keys()}
    names = {n.strip().lower() for n in listed.split(";") if n.strip()}
    return sorted(n for n in names
                  if n in present and n not in V4_DEFAULT_SIGNED and not n.startswith("x-oss-"))


def v4_canonical_request(req, additional, exclude_query=()):
    uri = "/"
    if req.bucket:
        uri = uri_encode("/%s/%s" % (req.bucket, req.key or ""), keep_slash=True)
    pairs = sorted((uri_encode(n), uri_encode(v)) for n, v, _ in req.query
                   if n not in exclude_query)
    query = "&".join(n + "=" + v if v else n for n, v in pairs)
    hdrs = _collect_headers(req.headers, lambda n: n.startswith("x-oss-")
                            or n in V4_DEFAULT_SIGNED or n in additional)
    canon = "".join("%s:%s\n" % (n, ",".join(v)) for n, v in sorted(hdrs.items()))
    payload = req.headers.get("x-oss-content-sha256", "UNSIGNED-PAYLOAD")
    return "\n".join([req.method, uri, query, canon, ";".join(additional), payload])


def _hmac256(key, text):
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def v4_signing_key(secret, day, region, product="oss"):
    key = _hmac256(("aliyun_v4" + secret).encode("utf-8"), day)
    key = _hmac256(key, region)
    key = _hmac256(key, product)
    return _hmac256(key, "aliyun_v4_request")


def s3_signing_key(secret, day, region, service="s3"):
    key = _hmac256(("AWS4" + secret).encode("utf-8"), day)
    key = _hmac256(key, region)
    key = _hmac256(key, service)
    return _hmac256(key, "aws4_request")


def s3_canonical_request(req, signed_headers, payload, exclude_query=()):
    uri = uri_encode(req.path or "/", keep_slash=True)
    pairs = sorted((uri_encode(n), uri_encode(v)) for n, v, _ in req.query
                   if n not in exclude_query)
    query = "&".join(n + "=" + v for n, v in pairs)
    lines = []
    for name in signed_headers:
        values = req.headers.get_all(name) or []
        lines.append("%s:%s\n" % (name, ",".join(" ".join(v.split()) for v in values)))
    return "\n".join([req.method, uri, query, "".join(lines), ";".join(signed_headers), payload])


def _sha256_hex(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Authenticator:
    """Decides who sent a request; raises OssError when it must be refused."""

    def __init__(self, creds, config, stats):
        self.creds = creds
        self.config = config
        self.stats = stats

    def authenticate(self, req):
        try:
            principal = self._authenticate(req)
        except OssError:
            self.stats.add("auth_failures")
            raise
        self.stats.scheme(principal.scheme)
        return principal

    def _authenticate(self, req):
        auth = req.headers.get("Authorization")
        q = req.qdict
        if auth:
            scheme, _, rest = auth.strip().partition(" ")
            if scheme == "OSS":
                return self._v1_header(req, rest.strip())
            if scheme == "OSS4-HMAC-SHA256":
                return self._v4_header(req, _auth_params(rest))
            if scheme == "AWS4-HMAC-SHA256":
                return self._s3_header(req, _auth_params(rest))
            raise OssError("InvalidArgument", "Authorization header is invalid.",
                           status=400)
        if "OSSAccessKeyId" in q:
            return self._v1_presign(req)
        if "x-oss-signature" in q:
            return self._v4_presign(req)
        if "X-Amz-Signature" in q:
            return self._s3_presign(req)
        if self.config.allow_anonymous:
            return Principal(None, "anonymous")
        raise OssError("AccessDenied", "AccessDenied: Anonymous access is forbidden for "
                       "this operation.")

    # ---- shared checks
    def _secret(self, access_key_id, token):
        entry = self.creds.lookup(access_key_id)
        if entry is None:
            raise OssError("InvalidAccessKeyId", extra=[("OSSAccessKeyId", access_key_id)])
        secret, expected_token = entry
        if expected_token is not None:
            if not token:
                raise OssError("InvalidAccessKeyId",
                               "The security token is missing for a temporary AccessKeyId.",
                               extra=[("OSSAccessKeyId", access_key_id)])
            if token != expected_token:
                raise OssError("SecurityTokenExpired",
                               extra=[("OSSAccessKeyId", access_key_id)])
        return secret

    def _check_skew(self, request_ts, raw):
        if request_ts is None:
            raise OssError("AccessDenied", "The request date is missing or invalid: %r" % raw)
        now = self.config.now()
        if abs(now - request_ts) > SKEW_LIMIT_S:
            raise OssError("RequestTimeTooSkewed",
                           extra=[("RequestTime", raw), ("ServerTime", iso8601(now))])

    def _check_expiry(self, expires_ts):
        now = self.config.now()
        if expires_ts is None or now > expires_ts:
            raise OssError("AccessDenied", "Request has expired.",
                           extra=[("Expires", iso8601(expires_ts or 0)),
                                  ("ServerTime", iso8601(now))])

    @staticmethod
    def _compare(provided, expected, access_key_id, string_to_sign, canonical=None):
        if hmac.compare_digest(provided.encode("utf-8"), expected.encode("utf-8")):
            return
        extra = [("OSSAccessKeyId", access_key_id), ("SignatureProvided", provided),
                 ("StringToSign", string_to_sign),
                 ("StringToSignBytes", _string_bytes(string_to_sign))]
        if canonical is not None:
            extra.append(("CanonicalRequest", canonical))
        raise OssError("SignatureDoesNotMatch", extra=extra)

    def _token(self, req, *names):
        for name in names:
            value = req.headers.get(name) or req.qdict.get(name)
            if value:
                return value
        return None

    # ---- OSS V1
    def _v1_header(self, req, rest):
        access_key_id, sep, provided = rest.rpartition(":")
        if not sep or not access_key_id:
            raise OssError("InvalidArgument", "Authorization header is invalid.")
        secret = self._secret(access_key_id, self._token(req, "x-oss-security-token"))
        date_slot = req.headers.get("x-oss-date") or req.headers.get("Date") or ""
        self._check_skew(parse_http_date(date_slot), date_slot)
        sts = v1_string_to_sign(req, date_slot)
        self._compare(provided, v1_signature(secret, sts), access_key_id, sts)
        return Principal(access_key_id, "v1")

    def _v1_presign(self, req):
        q = req.qdict
        access_key_id = q["OSSAccessKeyId"]
        secret = self._secret(access_key_id, self._token(req, "security-token"))
        try:
            expires = int(q.get("Expires", ""))
        except ValueError:
            expires = None
        self._check_expiry(expires)
        sts = v1_string_to_sign(req, q.get("Expires", ""))
        self._compare(q.get("Signature", ""), v1_signature(secret, sts), access_key_id, sts)
        return Principal(access_key_id, "presign-v1")

    # ---- OSS V4
    def _v4_scope(self, credential, date_text):
        """(access key id, scope); the scope must be today's and this region's."""
        parts = credential.split("/")
        if len(parts) != 5 or parts[3] != "oss" or parts[4] != "aliyun_v4_request":
            raise OssError("InvalidArgument", "Invalid credential scope: %r" % credential)
        if parts[1] != date_text[:8]:
            raise OssError("InvalidArgument", "The credential date %r does not match "
                           "x-oss-date %r." % (parts[1], date_text))
        if parts[2] != self.config.region:
            raise OssError("InvalidArgument", "Invalid signing region %r in credential, "
                           "expecting %r." % (parts[2], self.config.region))
        return parts[0], "/".join(parts[1:])

    def _v4_finish(self, req, access_key_id, scope, date_text, additional, provided, exclude):
        secret = self._secret(access_key_id, self._token(req, "x-oss-security-token"))
        canonical = v4_canonical_request(req, additional, exclude)
        sts = "OSS4-HMAC-SHA256\n%s\n%s\n%s" % (date_text, scope, _sha256_hex(canonical))
        key = v4_signing_key(secret, scope.split("/")[0], self.config.region)
        expected = hmac.new(key, sts.encode("utf-8"), hashlib.sha256).hexdigest()
        self._compare(provided, expected, access_key_id, sts, canonical)

    def _v4_header(self, req, params):
        date_text = req.headers.get("x-oss-date", "")
        self._check_skew(parse_iso_basic(date_text), date_text)
        if req.headers.get("x-oss-content-sha256") != "UNSIGNED-PAYLOAD":
            raise OssError("InvalidArgument", "x-oss-content-sha256 must be UNSIGNED-PAYLOAD.")
        access_key_id, scope = self._v4_scope(params.get("Credential", ""), date_text)
        additional = v4_additional_headers(req, params.get("AdditionalHeaders", ""))
        self._v4_finish(req, access_key_id, scope, date_text, additional,
                        params.get("Signature", ""), ())
        return Principal(access_key_id, "v4")

    def _v4_presign(self, req):
        q = req.qdict
        if q.get("x-oss-signature-version") != "OSS4-HMAC-SHA256":
            raise OssError("InvalidArgument", "Unsupported x-oss-signature-version.")
        date_text = q.get("x-oss-date", "")
        try:
            expires = int(q.get("x-oss-expires", ""))
        except ValueError:
            raise OssError("InvalidArgument", "x-oss-expires is invalid.")
        if expires > 7 * 86400:
            raise OssError("InvalidArgument", "x-oss-expires exceeds 7 days.")
        signed_at = parse_iso_basic(date_text)
        self._check_expiry(None if signed_at is None else signed_at + expires)
        access_key_id, scope = self._v4_scope(q.get("x-oss-credential", ""), date_text)
        additional = v4_additional_headers(req, q.get("x-oss-additional-headers", ""))
        self._v4_finish(req, access_key_id, scope, date_text, additional,
                        q.get("x-oss-signature", ""), ("x-oss-signature",))
        return Principal(access_key_id, "presign-v4")

    # ---- AWS S3 V4
    def _s3_finish(self, req, credential, date_text, signed, payload, provided, exclude):
        parts = credential.split("/")
        if len(parts) != 5 or parts[3] != "s3" or parts[4] != "aws4_request":
            raise OssError("InvalidArgument", "Invalid credential scope: %r" % credential)
        if parts[1] != date_text[:8]:
            raise OssError("InvalidArgument", "The credential date does not match x-amz-date.")
        # S3 clients commonly sign with a fixed region (us-east-1); accept any.
        secret = self._secret(parts[0], self._token(req, "x-amz-security-token",
                                                    "X-Amz-Security-Token"))
        canonical = s3_canonical_request(req, signed, payload, exclude)
        scope = "/".join(parts[1:])
        sts = "AWS4-HMAC-SHA256\n%s\n%s\n%s" % (date_text, scope, _sha256_hex(canonical))
        key = s3_signing_key(secret, parts[1], parts[2])
        expected = hmac.new(key, sts.encode("utf-8"), hashlib.sha256).hexdigest()
        self._compare(provided, expected, parts[0], sts, canonical)
        return parts[0]

    def _s3_header(self, req, params):
        date_text = req.headers.get("x-amz-date") or ""
        ts = parse_iso_basic(date_text)
        if not date_text:
            date_text = req.headers.get("Date", "")
            ts = parse_http_date(date_text)
        self._check_skew(ts, date_text)
        payload = req.headers.get("x-amz-content-sha256")
        if payload is None:
            raise OssError("InvalidRequest", "Missing required header x-amz-content-sha256.")
        if payload != "UNSIGNED-PAYLOAD":
            if not re.fullmatch(r"[0-9a-f]{64}", payload):
                raise OssError("InvalidArgument", "Unsupported x-amz-content-sha256 value "
                               "(aws-chunked uploads are not supported).")
            req.expected_sha256 = payload
        signed = [h.strip().lower() for h in params.get("SignedHeaders", "").split(";") if h]
        iso = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(ts))
        access_key_id = self._s3_finish(req, params.get("Credential", ""), iso, signed,
                                        payload, params.get("Signature", ""), ())
        return Principal(access_key_id, "s3v4")

    def _s3_presign(self, req):
        q = req.qdict
        if q.get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256":
            raise OssError("InvalidArgument", "Unsupported X-Amz-Algorithm.")
        date_text = q.get("X-Amz-Date", "")
        try:
            expires = int(q.get("X-Amz-Expires", ""))
        except ValueError:
            raise OssError("InvalidArgument", "X-Amz-Expires is invalid.")
        signed_at = parse_iso_basic(date_text)
        self._check_expiry(None if signed_at is None else signed_at + expires)
        signed = [h for h in q.get("X-Amz-SignedHeaders", "").split(";") if h]
        access_key_id = self._s3_finish(req, q.get("X-Amz-Credential", ""), date_text, signed,
                                        "UNSIGNED-PAYLOAD", q.get("X-Amz-Signature", ""),
                                        ("X-Amz-Signature",))
        return Principal(access_key_id, "presign-s3")


# --------------------------------------------------------------------------
# request plumbing

class BodyReader:
    """Reads a request body framed by Content-Length or chunked encoding."""

    def __init__(self, rfile, headers, stats):
        self.rfile = rfile
        self.stats = stats
        self.chunked = "chunked" in headers.get("Transfer-Encoding", "").lower()
        self.chunk_left = 0
        self.remaining = 0
        self.length = None
        if not self.chunked and headers.get("Content-Length") is not None:
            try:
                self.length = self.remaining = int(headers["Content-Length"])
            except ValueError:
                self.length = None
            if self.length is None or self.length < 0:
                raise OssError("InvalidArgument", "Content-Length is invalid.")
        self.done = not self.chunked and self.remaining == 0

    def _read_exact(self, n):
        data = self.rfile.read(n)
        if len(data) < n:
            raise ClientGone()
        return data

    def _next_chunk(self):
        line = self.rfile.readline(1024)
        if not line.endswith(b"\n"):
            raise ClientGone()
        try:
            size = int(line.split(b";")[0].strip(), 16)
        except ValueError:
            raise OssError("InvalidRequest", "Malformed chunked encoding.")
        if size == 0:
            while self.rfile.readline(8192).strip():   # trailers
                pass
            self.done = True
        self.chunk_left = size

    def read(self, n=CHUNK):
        """Up to n bytes; b'' at the end of the body."""
        if self.done:
            return b""
        if self.chunked:
            if self.chunk_left == 0:
                self._next_chunk()
                if self.done:
                    return b""
            data = self._read_exact(min(n, self.chunk_left))
            self.chunk_left -= len(data)
            if self.chunk_left == 0:
                self._read_exact(2)     # CRLF after the chunk
        else:
            data = self._read_exact(min(n, self.remaining))
            self.remaining -= len(data)
            self.done = self.remaining == 0
        self.stats.add("bytes_in", len(data))
        return data

    def drain(self, limit):
        """Discard the rest of the body; False if it was larger than limit."""
        if not self.chunked and self.remaining > limit:
            return False
        total = 0
        while not self.done:
            total += len(self.read())
            if total > limit:
                return False
        return True


class FileBody:
    """A byte range of an open file, sent with sendfile when possible."""

    def __init__(self, f, offset, length):
        self.f = f
        self.offset = offset
        self.length = length


class Received:
    """A request body spooled to a temporary file."""

    def __init__(self, path):
        self.path = path
        self.size = 0
        self.md5 = hashlib.md5()
        self.crc = 0

    @property
    def etag(self):
        return '"%s"' % self.md5.hexdigest().upper()

    def discard(self):
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


def parse_query(raw):
    """[(name, value, had '=')] decoded; '+' stays a literal plus."""
    out = []
    for part in raw.split("&"):
        if part:
            name, eq, value = part.partition("=")
            out.append((urllib.parse.unquote(name), urllib.parse.unquote(value), bool(eq)))
    return out


class Request:
    """What the handler knows about one data-plane request."""

    def __init__(self, method, headers):
        self.method = method
        self.headers = headers
        self.request_id = new_request_id()
        self.op = "Invalid"
        self.path = "/"
        self.query = []
        self.qdict = {}
        self.bucket = None
        self.key = None
        self.body = None
        self.fault = None
        self.principal = None
        self.expected_sha256 = None
        self.response_started = False

    @property
    def is_s3(self):
        return self.principal is not None and self.principal.is_s3

    @property
    def url_encoding(self):
        value = self.qdict.get("encoding-type")
        if value not in (None, "", "url"):
            raise OssError("InvalidArgument", "The encoding-type must be url.")
        return value == "url"


STORED_HEADERS = ("Cache-Control", "Content-Disposition", "Content-Encoding",
                  "Content-Language", "Expires")
RESPONSE_OVERRIDES = {"response-content-type": "Content-Type",
                      "response-content-language": "Content-Language",
                      "response-expires": "Expires",
                      "response-cache-control": "Cache-Control",
                      "response-content-disposition": "Content-Disposition",
                      "response-content-encoding": "Content-Encoding"}


def request_metadata(headers):
    """User metadata and stored standard headers from x-oss-meta-*/x-amz-meta-*."""
    meta = {}
    for name, value in headers.items():
        lname = name.lower()
        for prefix in ("x-oss-meta-", "x-amz-meta-"):
            if lname.startswith(prefix) and len(lname) > len(prefix):
                meta[lname[len(prefix):]] = value.strip()
    stored = {h: headers[h] for h in STORED_HEADERS if headers.get(h) is not None}
    content_type = headers.get("Content-Type") or "application/octet-stream"
    return {"meta": meta, "headers": stored, "content_type": content_type}


def header_either(headers, suffix):
    """x-oss-<suffix> or its S3 twin x-amz-<suffix>."""
    return headers.get("x-oss-" + suffix) or headers.get("x-amz-" + suffix)


def op_name(method, bucket, key, q, headers):
    """The OSS API name of a request (used for stats, faults and dispatch)."""
    if not bucket:
        return "ListBuckets" if method == "GET" else "Unsupported"
    if not key:
        table = {
            "GET": [("bucketInfo", "GetBucketInfo"), ("stat", "GetBucketStat"),
                    ("location", "GetBucketLocation"), ("uploads", "ListMultipartUploads"),
                    ("acl", "GetBucketAcl")],
            "POST": [("delete", "DeleteMultipleObjects")],
        }
        for sub, name in table.get(method, []):
            if sub in q:
                return name
        if method == "GET":
            return "ListObjectsV2" if q.get("list-type") == "2" else "ListObjects"
        return {"PUT": "PutBucket", "DELETE": "DeleteBucket",
                "HEAD": "HeadBucket"}.get(method, "Unsupported")
    copy = header_either(headers, "copy-source") is not None
    if method == "GET":
        for sub, name in (("symlink", "GetSymlink"), ("uploadId", "ListParts"),
                          ("acl", "GetObjectAcl")):
            if sub in q:
                return name
        return "GetObject"
    if method == "HEAD":
        return "GetObjectMeta" if "objectMeta" in q else "HeadObject"
    if method == "PUT":
        if "symlink" in q:
            return "PutSymlink"
        if "partNumber" in q and "uploadId" in q:
            return "UploadPartCopy" if copy else "UploadPart"
        if "acl" in q:
            return "PutObjectAcl"
        return "CopyObject" if copy else "PutObject"
    if method == "POST":
        if "uploads" in q:
            return "InitiateMultipartUpload"
        if "uploadId" in q:
            return "CompleteMultipartUpload"
        return "Unsupported"
    if method == "DELETE":
        return "AbortMultipartUpload" if "uploadId" in q else "DeleteObject"
    return "Unsupported"


def parse_range(header):
    """'bytes=a-b' -> (a or None, b or None); None when malformed."""
    m = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*(?:,.*)?", header or "")
    if not m or (m.group(1) == "" and m.group(2) == ""):
        return None
    return (int(m.group(1)) if m.group(1) else None,
            int(m.group(2)) if m.group(2) else None)


def pick_range(req, size):
    """(first byte, length, status, extra headers) for a GET/HEAD.

    OSS ignores an invalid or out-of-range Range (200, whole object) unless
    the request says x-oss-range-behavior: standard, which gives 206 with the
    available bytes when the end is past EOF and 416 when the start is.
    """
    full = (0, size, 200, [])
    header = req.headers.get("Range")
    rng = parse_range(header) if header else None
    if rng is None:
        return full
    standard = (req.headers.get("x-oss-range-behavior") or "").lower() == "standard"
    first, last = rng
    if first is None:                       # suffix: the last `last` bytes
        if last == 0 or size == 0 or (last > size and not standard):
            return _unsatisfiable(req, header, size) if standard else full
        first, last = max(size - last, 0), size - 1
    else:
        if first >= size:
            return _unsatisfiable(req, header, size) if standard else full
        if last is not None and last < first:
            return full
        if last is None or last >= size:
            if last is not None and not standard:
                return full
            last = size - 1
    return first, last - first + 1, 206, [("Content-Range", "bytes %d-%d/%d" % (first, last, size))]


def _unsatisfiable(req, header, size):
    raise OssError("InvalidRange", extra=[("RangeRequested", header),
                                          ("ActualObjectSize", str(size))],
                   headers=[("Content-Range", "bytes */%d" % size)])


def object_headers(req, rec):
    headers = [("Content-Type", rec["content_type"]), ("ETag", rec["etag"]),
               ("Last-Modified", http_date(rec["mtime"])), ("Accept-Ranges", "bytes"),
               ("x-oss-object-type", rec["type"]), ("x-oss-storage-class", "Standard"),
               ("x-oss-hash-crc64ecma", rec["crc64"])]
    if rec.get("content_md5"):
        headers.append(("Content-MD5", rec["content_md5"]))
    headers += sorted(rec["headers"].items())
    prefix = "x-amz-meta-" if req.is_s3 else "x-oss-meta-"
    headers += [(prefix + k, v) for k, v in sorted(rec["meta"].items())]
    overrides = {RESPONSE_OVERRIDES[n]: v for n, v in req.qdict.items()
                 if n in RESPONSE_OVERRIDES}
    headers = [(k, overrides.pop(k, v)) for k, v in headers]
    return headers + sorted(overrides.items())


def new_record(key, size, etag, crc, kind, meta, mtime, content_md5=None, target=None):
    return {"key": key, "size": size, "etag": etag, "crc64": str(crc), "type": kind,
            "mtime": mtime, "content_type": meta["content_type"], "meta": meta["meta"],
            "headers": meta["headers"], "content_md5": content_md5, "symlink_target": target}


def _etag_matches(header, etag):
    return any(strip_etag(t) in (strip_etag(etag), "*") for t in header.split(","))


def check_conditions(headers, rec, prefix=""):
    """Raise PreconditionFailed, or return True when the answer is 304."""
    mtime = int(rec["mtime"])
    value = headers.get(prefix + "If-Match")
    if value and not _etag_matches(value, rec["etag"]):
        raise OssError("PreconditionFailed", extra=[("Condition", prefix + "If-Match")])
    value = headers.get(prefix + "If-Unmodified-Since")
    when = parse_http_date(value) if value else None
    if when is not None and mtime > when:
        raise OssError("PreconditionFailed",
                       extra=[("Condition", prefix + "If-Unmodified-Since")])
    not_modified = False
    value = headers.get(prefix + "If-None-Match")
    if value and _etag_matches(value, rec["etag"]):
        not_modified = True
    value = headers.get(prefix + "If-Modified-Since")
    when = parse_http_date(value) if value else None
    if when is not None and mtime <= when:
        not_modified = True
    if not_modified and prefix:
        raise OssError("PreconditionFailed", extra=[("Condition", prefix + "If-None-Match")])
    return not_modified


def parse_copy_source(value):
    """'/bucket/url-encoded-key[?versionId=..]' -> (bucket, key)."""
    path = value.split("?", 1)[0]
    try:
        path = urllib.parse.unquote(path, errors="strict")
    except UnicodeDecodeError:
        raise OssError("InvalidArgument", "Copy source is not valid UTF-8.")
    bucket, _, key = path.lstrip("/").partition("/")
    if not bucket or not key:
        raise OssError("InvalidArgument", "Copy Source must mention the source bucket and key: "
                       "/sourcebucket/sourcekey.")
    return bucket, key


def parse_xml(body):
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        raise OssError("MalformedXML")
    # S3 clients (rclone, s3fs) put their bodies in the S3 namespace;
    # OSS reads the elements whatever namespace they carry.
    for node in root.iter():
        if isinstance(node.tag, str) and node.tag.startswith("{"):
            node.tag = node.tag.split("}", 1)[1]
    return root


def xml_text(node, tag, default=""):
    child = node.find(tag)
    return default if child is None or child.text is None else child.text


# --------------------------------------------------------------------------
# HTTP handler: framing, responses, faults

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "AliyunOSS"
    sys_version = ""

    def setup(self):
        super().setup()
        # Headers and body go out in separate writes; without NODELAY, Nagle
        # plus delayed ACKs would add ~40 ms to small responses.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.counted = False    # connections are counted at their first data-plane request

    def log_message(self, fmt, *args):
        if self.server.state.verbose:
            sys.stderr.write("%s - %s\n" % (self.address_string(), fmt % args))

    def do_GET(self):
        self.dispatch()

    do_HEAD = do_PUT = do_POST = do_DELETE = do_GET

    # ---- errors raised by BaseHTTPRequestHandler itself (bad request line ...)
    def send_error(self, code, message=None, explain=None):
        self.close_connection = True
        codes = {400: "InvalidRequest", 501: "NotImplemented", 405: "MethodNotAllowed"}
        err = OssError(codes.get(code, "InvalidRequest"), message, status=code)
        body = err.to_xml(new_request_id(), "localhost")
        if self.command == "HEAD" or code in (204, 304) or code < 200:
            body = b""
        head = ("HTTP/1.1 %d %s\r\nServer: AliyunOSS\r\nContent-Type: application/xml\r\n"
                "Content-Length: %d\r\nConnection: close\r\n\r\n"
                % (code, self.responses.get(code, ("Error",))[0], len(body)))
        try:
            self.wfile.write(head.encode("latin-1") + body)
        except OSError:
            pass

    # ---- writing
    def _header_block(self, req, status, headers, length):
        base = [("Server", "AliyunOSS"), ("Date", http_date(self.server.state.config.now())),
                ("x-oss-request-id", req.request_id), ("Content-Length", str(length)),
                ("Connection", "close" if self.close_connection else "keep-alive")]
        reason = self.responses.get(status, ("Unknown",))[0]
        lines = ["HTTP/1.1 %d %s" % (status, reason)]
        lines += ["%s: %s" % (k, v) for k, v in base + list(headers)]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")

    def _sendall(self, data):
        try:
            self.connection.sendall(data)
        except OSError:
            raise ClientGone()

    def _send_body(self, body, offset, count):
        """Send count bytes of body from offset, honouring the bandwidth cap."""
        if count <= 0:
            return
        bps = self.server.state.config.bandwidth_bps
        if bps <= 0:
            if isinstance(body, FileBody):
                try:
                    sent = self.connection.sendfile(body.f, body.offset + offset, count)
                except OSError:
                    raise ClientGone()
                if sent != count:       # file shorter than its record: framing is lost
                    raise ClientGone()
            else:
                self._sendall(memoryview(body)[offset:offset + count])
        else:
            self._send_paced(body, offset, count, bps)
        self.server.state.stats.add("bytes_out", count)

    def _send_paced(self, body, offset, count, bps):
        step = max(1024, min(CHUNK, bps // 20))
        start, sent = time.monotonic(), 0
        while sent < count:
            n = min(step, count - sent)
            if isinstance(body, FileBody):
                # sendfile: no copy through Python, and the GIL is free
                # while the kernel sends, so many paced streams scale.
                try:
                    got = self.connection.sendfile(
                        body.f, body.offset + offset + sent, n)
                except OSError:
                    raise ClientGone()
                if got != n:                # file shorter than its record
                    raise ClientGone()
                sent += got
            else:
                data = body[offset + sent:offset + sent + n]
                self._sendall(data)
                sent += len(data)
            ahead = sent / bps - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)

    def _reset_connection(self):
        """Abort the connection with a TCP RST (SO_LINGER 0, then close)."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.connection.close()
        self.rfile.close()      # drops the last reference, so the fd really closes

    def respond(self, req, status, headers, body=b"", head_only=False):
        state = self.server.state
        length = body.length if isinstance(body, FileBody) else len(body)
        if state.config.latency_ms > 0:
            time.sleep(state.config.latency_ms / 1000.0)
        req.response_started = True
        block = self._header_block(req, status, headers, length)
        count = 0 if head_only else length
        if req.fault in ("reset", "truncate", "stall"):
            return self._respond_faulty(req.fault, block, body, count)
        if count and count <= 65536 and not isinstance(body, FileBody) \
                and state.config.bandwidth_bps <= 0:
            self._sendall(block + bytes(body))
            state.stats.add("bytes_out", count)
            return
        self._sendall(block)
        self._send_body(body, 0, count)

    def _respond_faulty(self, kind, block, body, count):
        part = min(count // 2, CHUNK)
        if kind == "stall":
            self._sendall(block)
            self._send_body(body, 0, part)
            time.sleep(self.server.state.config.stall_s)
            self._send_body(body, part, count - part)
            return
        if count:
            self._sendall(block)
            self._send_body(body, 0, part)
        if kind == "reset":
            self._reset_connection()
        else:
            self.close_connection = True    # truncate: close cleanly, short of Content-Length

    def send_xml(self, req, body, headers=(), status=200):
        self.respond(req, status, [("Content-Type", "application/xml")] + list(headers), body)

    def send_error_response(self, req, err):
        self.server.state.stats.error(err.code)
        self.finish_body(req)
        if req.response_started:
            self.close_connection = True
            return
        xml = err.to_xml(req.request_id, self.headers.get("Host", "localhost"))
        headers = [("Content-Type", "application/xml"), ("x-oss-ec", err.ec)] + err.headers
        if req.method == "HEAD":
            headers.append(("x-oss-err", base64.b64encode(xml).decode("ascii")))
            xml = b""
        self.respond(req, err.status, headers, xml)

    def finish_body(self, req):
        """Consume what is left of the request body so the connection can be reused."""
        if req is None or req.body is None or req.body.done:
            return
        try:
            if not req.body.drain(DRAIN_LIMIT):
                self.close_connection = True
        except (ClientGone, OssError, OSError):
            self.close_connection = True

    # ---- reading
    def receive(self, req, bucket, limit=MAX_SINGLE_PUT):
        """Spool the body to a temp file, checking Content-MD5 / sha256."""
        want_md5 = self._content_md5(req)
        if req.body.length is not None and req.body.length > limit:
            raise OssError("EntityTooLarge")
        got = Received(bucket.new_tmp())
        sha = hashlib.sha256() if req.expected_sha256 else None
        try:
            with open(got.path, "wb") as f:
                while True:
                    data = req.body.read()
                    if not data:
                        break
                    f.write(data)
                    got.size += len(data)
                    got.md5.update(data)
                    got.crc = crc64_update(got.crc, data)
                    if sha:
                        sha.update(data)
                    if got.size > limit:
                        raise OssError("EntityTooLarge")
            self._verify_digests(req, want_md5, got.md5.digest(), sha)
        except BaseException:
            got.discard()
            raise
        return got

    def read_small_body(self, req, limit=MAX_XML_BODY):
        want_md5 = self._content_md5(req)
        chunks, size = [], 0
        while True:
            data = req.body.read()
            if not data:
                break
            size += len(data)
            if size > limit:
                raise OssError("EntityTooLarge")
            chunks.append(data)
        body = b"".join(chunks)
        sha = hashlib.sha256(body) if req.expected_sha256 else None
        self._verify_digests(req, want_md5, hashlib.md5(body).digest(), sha)
        return body

    @staticmethod
    def _content_md5(req):
        value = req.headers.get("Content-MD5")
        if value is None:
            return None
        try:
            digest = base64.b64decode(value.strip(), validate=True)
        except (ValueError, TypeError):
            digest = b""
        if len(digest) != 16:
            raise OssError("InvalidDigest")
        return digest

    @staticmethod
    def _verify_digests(req, want_md5, md5, sha):
        if want_md5 is not None and want_md5 != md5:
            raise OssError("BadDigest", extra=[
                ("ExpectedMD5", base64.b64encode(want_md5).decode()),
                ("CalculatedMD5", base64.b64encode(md5).decode())])
        if sha is not None and sha.hexdigest() != req.expected_sha256:
            raise OssError("XAmzContentSHA256Mismatch")

    # ---- dispatch
    def dispatch(self):
        raw_path = self.path
        if raw_path.startswith(("http://", "https://")):
            parts = urllib.parse.urlsplit(raw_path)
            raw_path = parts.path + ("?" + parts.query if parts.query else "")
        if raw_path == "/_admin" or raw_path.startswith("/_admin/"):
            return self.admin(raw_path)
        state = self.server.state
        if not self.counted:
            self.counted = True
            state.stats.add("connections")
        state.stats.begin()
        req = Request(self.command, self.headers)
        try:
            try:
                self.route(req, raw_path)
            finally:
                state.stats.count(req.op)
            self.run(req)
        except OssError as err:
            self._safe_error(req, err)
        except ClientGone:
            self.close_connection = True
        except Exception as exc:          # a bug: answer 500, keep serving
            import traceback
            traceback.print_exc()
            self._safe_error(req, OssError("InternalError", "%s: %s" % (type(exc).__name__, exc)))
        finally:
            state.stats.end()

    def _safe_error(self, req, err):
        try:
            self.send_error_response(req, err)
        except (ClientGone, OSError):
            self.close_connection = True

    def route(self, req, raw_path):
        path, _, raw_query = raw_path.partition("?")
        req.query = parse_query(raw_query)
        for name, value, _ in req.query:
            req.qdict.setdefault(name, value)
        try:
            req.body = BodyReader(self.rfile, self.headers, self.server.state.stats)
        except OssError:
            self.close_connection = True    # cannot tell where the body ends
            raise
        try:
            req.path = urllib.parse.unquote(path, errors="strict")
        except UnicodeDecodeError:
            raise OssError("InvalidObjectName", "The object key is not valid UTF-8.")
        req.bucket, req.key = self.resolve(req.path)
        req.op = op_name(req.method, req.bucket, req.key, req.qdict, self.headers)
        if req.key:
            if len(req.key.encode("utf-8")) > 1023:
                raise OssError("KeyTooLong", extra=[("Key", req.key[:64] + "...")])
            if req.key.startswith(("/", "\\")):
                raise OssError("InvalidObjectName", extra=[("Key", req.key)])

    def resolve(self, path):
        """(bucket, key) from virtual-hosted Host or path-style URL."""
        host = self.headers.get("Host", "").strip().lower()
        if not host.startswith("["):
            host = host.rsplit(":", 1)[0] if ":" in host else host
        label, dot, rest = host.partition(".")
        store = self.server.state.store
        virtual = bool(dot and rest) and (
            store.get(label) is not None
            or (BUCKET_NAME_RE.match(label) and not is_ip(host)
                and (rest == "localhost" or is_ip(rest) or rest.endswith("aliyuncs.com"))))
        if virtual:
            return label, path[1:] if path.startswith("/") else path
        bucket, _, key = path.lstrip("/").partition("/") if path.startswith("/") else ("", "", "")
        return bucket or None, key

    def run(self, req):
        state = self.server.state
        req.fault = state.faults.pick(req.op, req.bucket, req.key)
        if req.fault:
            state.stats.add("faults")
            if req.fault in ERROR_FAULTS:
                raise OssError(ERROR_FAULTS[req.fault])
        req.principal = state.auth.authenticate(req)
        handler = getattr(self, "op_" + req.op, None)
        if handler is None:
            raise OssError("NotImplemented", "This operation is not implemented by the test "
                           "server.", status=501)
        handler(req)
        self.finish_body(req)

    def bucket_of(self, req, name=None):
        name = name or req.bucket
        bucket = self.server.state.store.get(name)
        if bucket is None:
            raise OssError("NoSuchBucket", extra=[("BucketName", name)])
        return bucket

    @staticmethod
    def _forbid_overwrite(req):
        return (header_either(req.headers, "forbid-overwrite") or "").lower() == "true"

    def _encode(self, req, text):
        return uri_encode(text) if req.url_encoding else text

    # ---- object reads
    def _open_object(self, bucket, key):
        """(record, file) of key, following a symlink to its target."""
        rec, f = bucket.open_data(key)
        if rec is None:
            raise OssError("NoSuchKey", extra=[("Key", key)])
        if rec["type"] != "Symlink":
            return rec, f
        target = rec["symlink_target"]
        trec, f = bucket.open_data(target)
        if trec is None:
            raise OssError("SymlinkTargetNotExist", extra=[("Key", key), ("Target", target)])
        if trec["type"] == "Symlink":
            raise OssError("InvalidTargetType", extra=[("Key", key), ("Target", target)])
        return trec, f

    def op_GetObject(self, req, head_only=False):
        bucket = self.bucket_of(req)
        rec, f = self._open_object(bucket, req.key)
        try:
            headers = object_headers(req, rec)
            if check_conditions(req.headers, rec):
                keep = ("ETag", "Last-Modified", "x-oss-hash-crc64ecma")
                return self.respond(req, 304, [h for h in headers if h[0] in keep])
            first, length, status, extra = pick_range(req, rec["size"])
            self.respond(req, status, headers + extra, FileBody(f, first, length), head_only)
        finally:
            f.close()

    def op_HeadObject(self, req):
        self.op_GetObject(req, head_only=True)

    def op_GetObjectMeta(self, req):
        rec = self.bucket_of(req).get(req.key)
        if rec is None:
            raise OssError("NoSuchKey", extra=[("Key", req.key)])
        headers = [("ETag", rec["etag"]), ("Last-Modified", http_date(rec["mtime"])),
                   ("x-oss-last-access-time", http_date(rec["mtime"])),
                   ("x-oss-hash-crc64ecma", rec["crc64"]), ("x-oss-object-type", rec["type"])]
        body = FileBody(None, 0, rec["size"])
        self.respond(req, 200, headers, body, head_only=True)

    def op_GetSymlink(self, req):
        rec = self.bucket_of(req).get(req.key)
        if rec is None:
            raise OssError("NoSuchKey", extra=[("Key", req.key)])
        if rec["type"] != "Symlink":
            raise OssError("NotSymlink", extra=[("Key", req.key)])
        headers = [("x-oss-symlink-target", uri_encode(rec["symlink_target"], keep_slash=True)),
                   ("ETag", rec["etag"]), ("Last-Modified", http_date(rec["mtime"])),
                   ("Content-Type", rec["content_type"])]
        headers += [("x-oss-meta-" + k, v) for k, v in sorted(rec["meta"].items())]
        self.respond(req, 200, headers)

    def op_GetObjectAcl(self, req):
        if self.bucket_of(req).get(req.key) is None:
            raise OssError("NoSuchKey", extra=[("Key", req.key)])
        self.send_xml(req, acl_xml("default"))

    def op_PutObjectAcl(self, req):
        if self.bucket_of(req).get(req.key) is None:
            raise OssError("NoSuchKey", extra=[("Key", req.key)])
        self.respond(req, 200, [])

    # ---- object writes
    def op_PutObject(self, req):
        bucket = self.bucket_of(req)
        forbid = self._forbid_overwrite(req)
        if forbid and bucket.get(req.key) is not None:
            raise OssError("FileAlreadyExists", extra=[("Key", req.key)])
        got = self.receive(req, bucket)
        md5_b64 = base64.b64encode(got.md5.digest()).decode("ascii")
        rec = new_record(req.key, got.size, got.etag, got.crc, "Normal",
                         request_metadata(req.headers), time.time(), md5_b64)
        try:
            bucket.commit(rec, got.path, forbid)
        finally:
            got.discard()
        self.respond(req, 200, [("ETag", rec["etag"]), ("x-oss-hash-crc64ecma", rec["crc64"]),
                                ("Content-MD5", md5_b64)])

    def op_PutSymlink(self, req):
        bucket = self.bucket_of(req)
        raw = req.headers.get("x-oss-symlink-target")
        if not raw:
            raise OssError("InvalidArgument", "x-oss-symlink-target is missing.")
        # Clients URL-encode the target (oss-protocol.md §5.11); store it decoded.
        target = urllib.parse.unquote(raw)
        data = target.encode("utf-8")
        rec = new_record(req.key, len(data), '"%s"' % hashlib.md5(data).hexdigest().upper(),
                         crc64_update(0, data), "Symlink", request_metadata(req.headers),
                         time.time(), target=target)
        bucket.commit(rec, None, self._forbid_overwrite(req))
        self.respond(req, 200, [("ETag", rec["etag"])])

    def op_CopyObject(self, req):
        bucket = self.bucket_of(req)
        src_bucket_name, src_key = parse_copy_source(header_either(req.headers, "copy-source"))
        src_bucket = self.bucket_of(req, src_bucket_name)
        directive = (header_either(req.headers, "metadata-directive") or "COPY").upper()
        if directive not in ("COPY", "REPLACE"):
            raise OssError("InvalidArgument", "Unknown metadata directive %r." % directive)
        forbid = self._forbid_overwrite(req)
        tmp = bucket.new_tmp()
        try:
            src = src_bucket.link_data(src_key, tmp)
            check_conditions(req.headers, src, prefix=header_prefix(req, "copy-source-"))
            if directive == "REPLACE":
                meta = request_metadata(req.headers)
            else:
                meta = {k: src[k] for k in ("meta", "headers", "content_type")}
            rec = dict(src, key=req.key, mtime=time.time(), **meta)
            bucket.commit(rec, tmp if src["type"] != "Symlink" else None, forbid)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        body = xml_response("CopyObjectResult", [el("ETag", rec["etag"]),
                                                 el("LastModified", iso8601(rec["mtime"]))])
        self.send_xml(req, body, [("x-oss-hash-crc64ecma", rec["crc64"])])

    def op_DeleteObject(self, req):
        self.bucket_of(req).delete(req.key)
        self.respond(req, 204, [])

    def op_DeleteMultipleObjects(self, req):
        bucket = self.bucket_of(req)
        if req.headers.get("Content-MD5") is None:
            raise OssError("InvalidDigest", "Content-MD5 is required for DeleteMultipleObjects.")
        root = parse_xml(self.read_small_body(req))
        objects = root.findall("Object")
        if root.tag != "Delete" or not objects or len(objects) > 1000:
            raise OssError("MalformedXML")
        quiet = xml_text(root, "Quiet", "false").strip().lower() == "true"
        parts = []
        if req.url_encoding:
            parts.append(el("EncodingType", "url"))
        for obj in objects:
            key = xml_text(obj, "Key")
            if not key:
                raise OssError("MalformedXML")
            bucket.delete(key)
            if not quiet:
                parts.append("<Deleted>%s</Deleted>" % el("Key", self._encode(req, key)))
        self.send_xml(req, xml_response("DeleteResult", parts))

    # ---- multipart uploads
    def op_InitiateMultipartUpload(self, req):
        bucket = self.bucket_of(req)
        info = dict(request_metadata(req.headers), key=req.key, initiated=time.time(),
                    forbid_overwrite=self._forbid_overwrite(req))
        upload_id = bucket.create_upload(info)
        parts = [el("Bucket", bucket.name), el("Key", self._encode(req, req.key)),
                 el("UploadId", upload_id)]
        if req.url_encoding:
            parts.insert(0, el("EncodingType", "url"))
        self.send_xml(req, xml_response("InitiateMultipartUploadResult", parts))

    def _part_number(self, req):
        try:
            number = int(req.qdict.get("partNumber", ""))
        except ValueError:
            number = 0
        if not 1 <= number <= 10000:
            raise OssError("InvalidArgument", "Part number must be an integer between 1 and "
                           "10000, inclusive.")
        return number

    def op_UploadPart(self, req):
        bucket = self.bucket_of(req)
        number = self._part_number(req)
        upload_id = req.qdict["uploadId"]
        bucket.get_upload(upload_id, req.key)
        got = self.receive(req, bucket)
        part = {"number": number, "etag": got.etag, "size": got.size, "crc64": str(got.crc),
                "mtime": time.time()}
        try:
            bucket.commit_part(upload_id, req.key, part, got.path)
        finally:
            got.discard()
        self.respond(req, 200, [("ETag", part["etag"]), ("x-oss-hash-crc64ecma", part["crc64"])])

    def op_UploadPartCopy(self, req):
        bucket = self.bucket_of(req)
        number = self._part_number(req)
        upload_id = req.qdict["uploadId"]
        bucket.get_upload(upload_id, req.key)
        src_name, src_key = parse_copy_source(header_either(req.headers, "copy-source"))
        src, f = self._open_object(self.bucket_of(req, src_name), src_key)
        try:
            check_conditions(req.headers, src, prefix=header_prefix(req, "copy-source-"))
            first, length = copy_source_range(req, src["size"])
            got = Received(bucket.new_tmp())
            copy_range_hashing(f, first, length, got)
        finally:
            f.close()
        part = {"number": number, "etag": got.etag, "size": got.size, "crc64": str(got.crc),
                "mtime": time.time()}
        try:
            bucket.commit_part(upload_id, req.key, part, got.path)
        finally:
            got.discard()
        body = xml_response("CopyPartResult", [el("LastModified", iso8601(part["mtime"])),
                                               el("ETag", part["etag"])])
        self.send_xml(req, body, [("x-oss-hash-crc64ecma", part["crc64"])])

    def _chosen_parts(self, req, upload):
        """[(number, part)] named by the Complete request, validated like OSS."""
        uploaded = upload["parts"]
        if (req.headers.get("x-oss-complete-all") or "").lower() == "yes":
            self.read_small_body(req)
            chosen = sorted(uploaded.items())
        else:
            root = parse_xml(self.read_small_body(req))
            chosen, previous = [], 0
            for node in root.findall("Part"):
                try:
                    number = int(xml_text(node, "PartNumber"))
                except ValueError:
                    raise OssError("MalformedXML")
                if number <= previous:
                    raise OssError("InvalidPartOrder")
                previous = number
                part = uploaded.get(number)
                if part is None or strip_etag(xml_text(node, "ETag")) != strip_etag(part["etag"]):
                    raise OssError("InvalidPart", extra=[("PartNumber", str(number))])
                chosen.append((number, part))
        if not chosen:
            raise OssError("MalformedXML", "The list of parts is empty.")
        minimum = self.server.state.config.min_part_size
        for number, part in chosen[:-1]:
            if part["size"] < minimum:
                raise OssError("EntityTooSmall", extra=[
                    ("MinSizeAllowed", str(minimum)), ("ProposedSize", str(part["size"])),
                    ("PartNumber", str(number))])
        return chosen

    def op_CompleteMultipartUpload(self, req):
        bucket = self.bucket_of(req)
        upload_id = req.qdict["uploadId"]
        upload = bucket.get_upload(upload_id, req.key)
        chosen = self._chosen_parts(req, upload)
        files = bucket.open_parts(upload_id, req.key, [n for n, _ in chosen])
        tmp = bucket.new_tmp()
        try:
            crc, md5s, size = 0, b"", 0
            with open(tmp, "wb") as out:
                for f, (_, part) in zip(files, chosen):
                    copy_file(f, out, part["size"])
                    crc = crc64_combine(crc, int(part["crc64"]), part["size"])
                    md5s += bytes.fromhex(strip_etag(part["etag"]))
                    size += part["size"]
            etag = '"%s-%d"' % (hashlib.md5(md5s).hexdigest().upper(), len(chosen))
            info = upload["info"]
            rec = new_record(req.key, size, etag, crc, "Multipart", info, time.time())
            forbid = info.get("forbid_overwrite") or self._forbid_overwrite(req)
            bucket.commit(rec, tmp, forbid)
        finally:
            for f in files:
                f.close()
            if os.path.exists(tmp):
                os.unlink(tmp)
        bucket.drop_upload(upload_id)
        parts = [el("Location", "http://%s/%s" % (self.headers.get("Host", ""), req.key)),
                 el("Bucket", bucket.name), el("Key", self._encode(req, req.key)),
                 el("ETag", etag)]
        if req.url_encoding:
            parts.insert(0, el("EncodingType", "url"))
        self.send_xml(req, xml_response("CompleteMultipartUploadResult", parts),
                      [("x-oss-hash-crc64ecma", rec["crc64"]), ("ETag", etag)])

    def op_AbortMultipartUpload(self, req):
        bucket = self.bucket_of(req)
        upload_id = req.qdict["uploadId"]
        bucket.get_upload(upload_id, req.key)
        bucket.drop_upload(upload_id)
        self.respond(req, 204, [])

    def op_ListParts(self, req):
        bucket = self.bucket_of(req)
        upload_id = req.qdict["uploadId"]
        upload = bucket.get_upload(upload_id, req.key)
        marker = int_param(req, "part-number-marker", 0, 0, 10000)
        max_parts = int_param(req, "max-parts", 1000, 1, 1000)
        with bucket.lock:
            numbers = sorted(n for n in upload["parts"] if n > marker)
            page = [upload["parts"][n] for n in numbers[:max_parts]]
        truncated = len(numbers) > max_parts
        parts = [el("Bucket", bucket.name), el("Key", self._encode(req, req.key)),
                 el("UploadId", upload_id), el("PartNumberMarker", marker),
                 el("NextPartNumberMarker", page[-1]["number"] if page else marker),
                 el("MaxParts", max_parts), el("IsTruncated", str(truncated).lower())]
        if req.url_encoding:
            parts.insert(0, el("EncodingType", "url"))
        for p in page:
            parts.append("<Part>%s%s%s%s</Part>" % (
                el("PartNumber", p["number"]), el("LastModified", iso8601(p["mtime"])),
                el("ETag", p["etag"]), el("Size", p["size"])))
        self.send_xml(req, xml_response("ListPartsResult", parts))

    def op_ListMultipartUploads(self, req):
        bucket = self.bucket_of(req)
        prefix = req.qdict.get("prefix", "")
        key_marker = req.qdict.get("key-marker", "")
        id_marker = req.qdict.get("upload-id-marker", "")
        max_uploads = int_param(req, "max-uploads", 1000, 1, 1000)
        with bucket.lock:
            uploads = sorted((u["info"]["key"], u["info"]["initiated"], uid)
                             for uid, u in bucket.uploads.items()
                             if u["info"]["key"].startswith(prefix))
        uploads = [u for u in uploads if u[0] > key_marker
                   or (u[0] == key_marker and id_marker and u[2] > id_marker)]
        page, truncated = uploads[:max_uploads], len(uploads) > max_uploads
        parts = [el("Bucket", bucket.name), el("KeyMarker", self._encode(req, key_marker)),
                 el("UploadIdMarker", id_marker),
                 el("NextKeyMarker", self._encode(req, page[-1][0] if page else "")),
                 el("NextUploadIdMarker", page[-1][2] if page else ""),
                 el("Delimiter", self._encode(req, req.qdict.get("delimiter", ""))),
                 el("Prefix", self._encode(req, prefix)), el("MaxUploads", max_uploads),
                 el("IsTruncated", str(truncated).lower())]
        if req.url_encoding:
            parts.insert(0, el("EncodingType", "url"))
        for key, initiated, uid in page:
            parts.append("<Upload>%s%s%s</Upload>" % (
                el("Key", self._encode(req, key)), el("UploadId", uid),
                el("Initiated", iso8601(initiated))))
        self.send_xml(req, xml_response("ListMultipartUploadsResult", parts))

    # ---- listing
    def _list(self, req, after):
        bucket = self.bucket_of(req)
        q = req.qdict
        max_keys = int_param(req, "max-keys", 100, 0, 1000)
        contents, prefixes, truncated, last = bucket.list_page(
            q.get("prefix", ""), q.get("delimiter", ""), after, max_keys)
        enc = lambda text: self._encode(req, text)      # noqa: E731
        head = [el("Name", bucket.name), el("Prefix", enc(q.get("prefix", ""))),
                el("MaxKeys", max_keys), el("Delimiter", enc(q.get("delimiter", ""))),
                el("IsTruncated", str(truncated).lower())]
        if req.url_encoding:
            head.append(el("EncodingType", "url"))
        return bucket, head, contents, prefixes, truncated, last

    def _list_entries(self, req, contents, prefixes, owner):
        parts = []
        for key, rec in contents:
            items = [el("Key", self._encode(req, key)), el("LastModified", iso8601(rec["mtime"])),
                     el("ETag", rec["etag"]), el("Type", rec["type"]), el("Size", rec["size"]),
                     el("StorageClass", "Standard")]
            if owner:
                items.append("<Owner>%s%s</Owner>" % (el("ID", OWNER_ID),
                                                      el("DisplayName", OWNER_ID)))
            parts.append("<Contents>%s</Contents>" % "".join(items))
        for prefix in prefixes:
            parts.append("<CommonPrefixes>%s</CommonPrefixes>"
                         % el("Prefix", self._encode(req, prefix)))
        return parts

    def op_ListObjects(self, req):
        marker = req.qdict.get("marker", "")
        _, head, contents, prefixes, truncated, last = self._list(req, marker)
        head.insert(2, el("Marker", self._encode(req, marker)))
        if truncated and last is not None:
            head.append(el("NextMarker", self._encode(req, last)))
        body = head + self._list_entries(req, contents, prefixes, owner=True)
        self.send_xml(req, xml_response("ListBucketResult", body))

    def op_ListObjectsV2(self, req):
        q = req.qdict
        token = q.get("continuation-token")
        after = q.get("start-after", "")
        if token is not None:
            try:
                after = base64.urlsafe_b64decode(token.encode("ascii")).decode("utf-8")
            except (ValueError, UnicodeError):
                raise OssError("InvalidArgument", "The continuation token is invalid.")
        _, head, contents, prefixes, truncated, last = self._list(req, after)
        if "start-after" in q:
            head.insert(2, el("StartAfter", self._encode(req, q["start-after"])))
        if token is not None:
            head.append(el("ContinuationToken", token))
        if truncated and last is not None:
            next_token = base64.urlsafe_b64encode(last.encode("utf-8")).decode("ascii")
            head.append(el("NextContinuationToken", next_token))
        owner = q.get("fetch-owner", "").lower() == "true"
        body = head + self._list_entries(req, contents, prefixes, owner)
        body.append(el("KeyCount", len(contents) + len(prefixes)))
        self.send_xml(req, xml_response("ListBucketResult", body))

    # ---- buckets
    def op_ListBuckets(self, req):
        state = self.server.state
        items = []
        for name in state.store.names():
            bucket = state.store.get(name)
            if bucket is None:
                continue
            items.append("<Bucket>%s</Bucket>" % "".join([
                el("CreationDate", iso8601(bucket.created)), el("Name", name),
                el("Location", "oss-" + state.config.region),
                el("Region", state.config.region), el("StorageClass", "Standard")]))
        parts = ["<Owner>%s%s</Owner>" % (el("ID", OWNER_ID), el("DisplayName", OWNER_ID)),
                 "<Buckets>%s</Buckets>" % "".join(items)]
        self.send_xml(req, xml_response("ListAllMyBucketsResult", parts))

    def op_PutBucket(self, req):
        if not BUCKET_NAME_RE.match(req.bucket):
            raise OssError("InvalidBucketName", extra=[("BucketName", req.bucket)])
        self.server.state.store.create(req.bucket)
        self.respond(req, 200, [("Location", "/" + req.bucket)])

    def op_DeleteBucket(self, req):
        self.server.state.store.remove(req.bucket)
        self.respond(req, 204, [])

    def op_HeadBucket(self, req):
        self.bucket_of(req)
        self.respond(req, 200, [("x-oss-bucket-region", self.server.state.config.region)])

    def op_GetBucketLocation(self, req):
        self.bucket_of(req)
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n<LocationConstraint>oss-%s'
                '</LocationConstraint>\n' % self.server.state.config.region)
        self.send_xml(req, body.encode("utf-8"))

    def op_GetBucketAcl(self, req):
        self.bucket_of(req)
        self.send_xml(req, acl_xml("private"))

    def op_GetBucketInfo(self, req):
        bucket = self.bucket_of(req)
        region = self.server.state.config.region
        fields = [el("AccessMonitor", "Disabled"), el("CreationDate", iso8601(bucket.created)),
                  el("ExtranetEndpoint", "oss-%s.aliyuncs.com" % region),
                  el("IntranetEndpoint", "oss-%s-internal.aliyuncs.com" % region),
                  el("Location", "oss-" + region), el("StorageClass", "Standard"),
                  el("TransferAcceleration", "Disabled"),
                  el("CrossRegionReplication", "Disabled"), el("Name", bucket.name),
                  el("DataRedundancyType", "LRS"), el("Versioning", "Disabled"),
                  "<Owner>%s%s</Owner>" % (el("DisplayName", OWNER_ID), el("ID", OWNER_ID)),
                  "<AccessControlList>%s</AccessControlList>" % el("Grant", "private"),
                  "<ServerSideEncryptionRule>%s</ServerSideEncryptionRule>"
                  % el("SSEAlgorithm", "None")]
        self.send_xml(req, xml_response("BucketInfo", ["<Bucket>%s</Bucket>" % "".join(fields)]))

    def op_GetBucketStat(self, req):
        s = self.bucket_of(req).stat()
        fields = [("Storage", s["storage"]), ("ObjectCount", s["objects"]),
                  ("MultipartUploadCount", s["uploads"]), ("LiveChannelCount", 0),
                  ("LastModifiedTime", int(s["newest"])), ("StandardStorage", s["storage"]),
                  ("StandardObjectCount", s["objects"]), ("InfrequentAccessStorage", 0),
                  ("InfrequentAccessRealStorage", 0), ("InfrequentAccessObjectCount", 0),
                  ("ArchiveStorage", 0), ("ArchiveRealStorage", 0), ("ArchiveObjectCount", 0),
                  ("ColdArchiveStorage", 0), ("ColdArchiveRealStorage", 0),
                  ("ColdArchiveObjectCount", 0), ("MultipartPartCount", s["parts"]),
                  ("DeleteMarkerCount", 0)]
        self.send_xml(req, xml_response("BucketStat", [el(k, v) for k, v in fields]))

    # ---- admin API (no auth, no faults, not counted)
    def admin(self, raw_path):
        path = raw_path.split("?", 1)[0].rstrip("/")
        try:
            body = BodyReader(self.rfile, self.headers, NULL_STATS)
            data = b"".join(iter(body.read, b""))
            payload = json.loads(data) if data.strip() else {}
            result = self._admin_call(self.command, path, payload)
            status = 200 if result is not None else 404
            if result is None:
                result = {"error": "unknown admin call %s %s" % (self.command, path)}
        except (ValueError, KeyError, TypeError, OssError) as exc:
            status, result = 400, {"error": str(exc)}
        except ClientGone:
            self.close_connection = True
            return
        except Exception as exc:          # a bug: report it, keep serving
            status, result = 500, {"error": "%s: %s" % (type(exc).__name__, exc)}
        if isinstance(result, str):
            out, ctype = result.encode("utf-8"), "text/plain"
        else:
            out, ctype = json.dumps(result, sort_keys=True).encode("utf-8"), "application/json"
        head = ("HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
                % (status, self.responses[status][0], ctype, len(out)))
        try:
            self._sendall(head.encode("latin-1") + out)
        except ClientGone:
            self.close_connection = True

    def _admin_call(self, method, path, payload):
        state = self.server.state
        if method == "GET" and path == "/_admin/health":
            return "ok"
        if method == "GET" and path == "/_admin/stats":
            return state.stats.snapshot()
        if method == "POST" and path == "/_admin/reset":
            state.stats.reset()
            return {"ok": True}
        if path == "/_admin/faults" and method in ("GET", "POST"):
            if method == "POST":
                state.faults.configure(payload)
            return state.faults.describe()
        if path == "/_admin/config" and method in ("GET", "POST"):
            if method == "POST":
                state.config.update(payload)
            return state.config.as_dict()
        if path == "/_admin/creds" and method in ("GET", "POST"):
            if method == "POST":
                state.creds.replace(payload["creds"])
            return {"access_key_ids": state.creds.describe()}
        if method == "POST" and path == "/_admin/buckets":
            name = payload["name"]
            if not BUCKET_NAME_RE.match(name):
                raise ValueError("invalid bucket name %r" % name)
            state.store.create(name)
            return {"buckets": state.store.names()}
        return None


# --------------------------------------------------------------------------
# helpers used by the operations

def header_prefix(req, suffix):
    """'x-amz-'+suffix when the request uses the S3 header family, else 'x-oss-'+suffix."""
    for name in req.headers.keys():
        if name.lower().startswith("x-amz-" + suffix):
            return "x-amz-" + suffix
    return "x-oss-" + suffix


def int_param(req, name, default, low, high):
    value = req.qdict.get(name)
    if value in (None, ""):
        return default
    try:
        number = int(value)
    except ValueError:
        number = low - 1
    if not low <= number <= high:
        raise OssError("InvalidArgument", "Argument %s must be an integer between %d and %d."
                       % (name, low, high), extra=[("ArgumentName", name),
                                                    ("ArgumentValue", value)])
    return number


def copy_source_range(req, size):
    """(first, length) of x-oss-copy-source-range, or the whole object."""
    header = header_either(req.headers, "copy-source-range")
    if not header:
        return 0, size
    rng = parse_range(header)
    if rng is None or rng[0] is None:
        raise OssError("InvalidArgument", "Invalid copy source range %r." % header)
    first, last = rng
    last = size - 1 if last is None else last
    if first >= size or last < first or last >= size:
        raise OssError("InvalidArgument", "Range %r is not valid for a source object of size %d."
                       % (header, size))
    return first, last - first + 1


def copy_range_hashing(src, first, length, got):
    """Copy src[first:first+length] into got.path, hashing as we go."""
    with open(got.path, "wb") as out:
        offset = first
        while got.size < length:
            data = os.pread(src.fileno(), min(CHUNK, length - got.size), offset)
            if not data:
                break
            out.write(data)
            offset += len(data)
            got.size += len(data)
            got.md5.update(data)
            got.crc = crc64_update(got.crc, data)


def copy_file(src, dst, length):
    """Append length bytes of src to dst in the kernel when possible."""
    dst.flush()
    remaining = length
    while remaining > 0:
        try:
            n = os.copy_file_range(src.fileno(), dst.fileno(), remaining)
        except (AttributeError, OSError):
            n = 0
        if n <= 0:
            shutil.copyfileobj(src, dst, CHUNK)
            return
        remaining -= n


def acl_xml(grant):
    owner = "<Owner>%s%s</Owner>" % (el("ID", OWNER_ID), el("DisplayName", OWNER_ID))
    return xml_response("AccessControlPolicy", [
        owner, "<AccessControlList>%s</AccessControlList>" % el("Grant", grant)])


# --------------------------------------------------------------------------
# server and command line

class ServerState:
    def __init__(self, args):
        self.verbose = args.verbose
        self.store = Store(args.root)
        for name in args.bucket:
            self.store.create(name)
        self.config = Config(args)
        self.creds = Credentials(args.creds or ["testak:testsk"])
        self.stats = Stats()
        kinds = [k.strip() for k in args.fault_kinds.split(",") if k.strip()]
        self.faults = Faults(args.fault_rate, kinds, None, args.seed)
        self.auth = Authenticator(self.creds, self.config, self.stats)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 1024
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # Peers vanishing is routine here (fault tests, killed clients).
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, ClientGone, socket.timeout)):
            return
        super().handle_error(request, client_address)


def parse_args(argv):
    p = argparse.ArgumentParser(description="OSS-compatible test server for ossfs")
    p.add_argument("--root", required=True, help="directory holding the buckets")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--port-file", help="write the chosen port here")
    p.add_argument("--bucket", action="append", default=[], help="create this bucket")
    p.add_argument("--creds", action="append", default=[], help="AK:SK[:TOKEN]")
    p.add_argument("--region", default="cn-hangzhou", help="region for V4 signatures")
    p.add_argument("--latency-ms", type=float, default=0.0)
    p.add_argument("--bandwidth-bps", type=int, default=0)
    p.add_argument("--fault-rate", type=float, default=0.0)
    p.add_argument("--fault-kinds", default="503", help="comma list of " + ",".join(FAULT_KINDS))
    p.add_argument("--stall-s", type=float, default=60.0)
    p.add_argument("--seed", type=int, default=None, help="seed of the fault RNG")
    p.add_argument("--min-part-size", type=int, default=102400)
    p.add_argument("--allow-anonymous", action="store_true")
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args(argv)
    for name in args.bucket:
        if not BUCKET_NAME_RE.match(name):
            p.error("invalid bucket name %r" % name)
    for spec in args.creds:
        try:
            Credentials.parse(spec)
        except ValueError as exc:
            p.error(str(exc))
    for kind in args.fault_kinds.split(","):
        if kind.strip() and kind.strip() not in FAULT_KINDS:
            p.error("unknown fault kind %r" % kind)
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    server = Server((args.host, args.port), Handler)
    server.state = ServerState(args)
    port = server.server_address[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, args.port_file)
    print("listening on %s:%d" % (args.host, port), flush=True)
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
