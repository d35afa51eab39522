"""Client-side OSS / S3 request signing and a small HTTP client for tests.

This is written independently of ossserver.py's verifier: the signing
functions are checked against the official vectors in shared/oss-vectors, and
the server is then checked against this client, so both sides are tested.

Headers and query parameters are lists of (name, value) pairs so tests can
control exact order, case and repetition.
"""

import base64
import calendar
import hashlib
import hmac
import http.client
import json
import time
import urllib.parse
import xml.etree.ElementTree as ET

V1_SUBRESOURCES = {
    "acl", "append", "bucketInfo", "continuation-token", "delete", "location", "objectMeta",
    "partNumber", "position", "restore", "security-token", "stat", "symlink", "tagging",
    "uploadId", "uploads", "versionId", "versioning", "versions", "callback", "callback-var",
    "sequential", "resourceGroup", "response-content-type", "response-content-language",
    "response-expires", "response-cache-control", "response-content-disposition",
    "response-content-encoding",
}


def quote(text, safe=""):
    """RFC 3986 encoding: everything but A-Z a-z 0-9 - _ . ~ (and `safe`)."""
    return urllib.parse.quote(text, safe=safe + "~")


def rfc1123(ts):
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(ts))


def iso_basic(ts):
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(ts))


def _header(headers, name, default=""):
    for k, v in headers:
        if k.lower() == name:
            return v
    return default


def _canonical(headers, wanted):
    """'name:value\\n' lines for the wanted lower-case names, sorted."""
    merged = {}
    for k, v in headers:
        if wanted(k.lower()):
            merged.setdefault(k.lower(), []).append(v.strip())
    return "".join("%s:%s\n" % (k, ",".join(v)) for k, v in sorted(merged.items()))


# ---------------------------------------------------------------- OSS V1

def v1_string_to_sign(method, bucket, key, query, headers, date=None, extra_subresources=()):
    if date is None:
        date = _header(headers, "x-oss-date") or _header(headers, "date")
    resource = "/" + (bucket + "/" + (key or "") if bucket else "")
    signed = V1_SUBRESOURCES | set(extra_subresources)
    subs = sorted((n, v) for n, v in query if n in signed or n.startswith("x-oss-"))
    if subs:
        resource += "?" + "&".join("%s=%s" % (n, v) if v else n for n, v in subs)
    return "\n".join([method, _header(headers, "content-md5"),
                      _header(headers, "content-type"), date,
                      _canonical(headers, lambda n: n.startswith("x-oss-")) + resource])


def v1_signature(secret, string_to_sign):
    mac = hmac.new(secret.encode(), string_to_sign.encode(), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode()


def v1_authorization(ak, sk, method, bucket, key, query, headers, **kw):
    sts = v1_string_to_sign(method, bucket, key, query, headers, **kw)
    return "OSS %s:%s" % (ak, v1_signature(sk, sts))


# ---------------------------------------------------------------- OSS V4

def _hmac(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def v4_additional(headers, requested):
    present = {k.lower() for k, _ in headers}
    names = {h.lower() for h in requested}
    return sorted(h for h in names if h in present and h not in ("content-type", "content-md5")
                  and not h.startswith("x-oss-"))


def v4_canonical_request(method, bucket, key, query, headers, additional):
    uri = quote("/%s/%s" % (bucket, key or ""), safe="/") if bucket else "/"
    pairs = sorted((quote(n), quote(v)) for n, v in query)
    cq = "&".join("%s=%s" % (n, v) if v else n for n, v in pairs)
    wanted = (lambda n: n.startswith("x-oss-") or n in ("content-type", "content-md5")
              or n in additional)
    payload = _header(headers, "x-oss-content-sha256", "UNSIGNED-PAYLOAD")
    return "\n".join([method, uri, cq, _canonical(headers, wanted), ";".join(additional),
                      payload])


def v4_signature(sk, date, region, canonical_request, product="oss"):
    scope = "%s/%s/%s/aliyun_v4_request" % (date[:8], region, product)
    sts = "OSS4-HMAC-SHA256\n%s\n%s\n%s" % (
        date, scope, hashlib.sha256(canonical_request.encode()).hexdigest())
    key = _hmac(("aliyun_v4" + sk).encode(), date[:8])
    for part in (region, product, "aliyun_v4_request"):
        key = _hmac(key, part)
    return hmac.new(key, sts.encode(), hashlib.sha256).hexdigest(), scope


def v4_authorization(ak, sk, region, method, bucket, key, query, headers,
                     additional_headers=(), product="oss"):
    """headers must already contain x-oss-date (and x-oss-content-sha256)."""
    additional = v4_additional(headers, additional_headers)
    canonical = v4_canonical_request(method, bucket, key, query, headers, additional)
    sig, scope = v4_signature(sk, _header(headers, "x-oss-date"), region, canonical, product)
    extra = "AdditionalHeaders=%s," % ";".join(additional) if additional else ""
    return "OSS4-HMAC-SHA256 Credential=%s/%s,%sSignature=%s" % (ak, scope, extra, sig)


def v4_presign_query(ak, sk, region, method, bucket, key, query, headers, signing_time,
                     expires, token=None, product="oss", additional_headers=()):
    """query plus the x-oss-* presign parameters, x-oss-signature last."""
    date = iso_basic(signing_time)
    additional = v4_additional(headers, additional_headers)
    q = list(query) + [("x-oss-signature-version", "OSS4-HMAC-SHA256"),
                       ("x-oss-date", date), ("x-oss-expires", str(expires)),
                       ("x-oss-credential", "%s/%s/%s/%s/aliyun_v4_request"
                        % (ak, date[:8], region, product))]
    if additional:
        q.append(("x-oss-additional-headers", ";".join(additional)))
    if token:
        q.append(("x-oss-security-token", token))
    canonical = v4_canonical_request(method, bucket, key, q, headers, additional)
    sig, _ = v4_signature(sk, date, region, canonical, product)
    return q + [("x-oss-signature", sig)]


def v1_presign_query(ak, sk, method, bucket, key, query, headers, expires, token=None):
    q = list(query)
    if token:
        q.append(("security-token", token))
    sts = v1_string_to_sign(method, bucket, key, q, headers, date=str(expires))
    return q + [("OSSAccessKeyId", ak), ("Expires", str(expires)),
                ("Signature", v1_signature(sk, sts))]


# ---------------------------------------------------------------- AWS S3 V4

def s3_authorization(ak, sk, region, method, path, query, headers, signed_headers):
    """headers must contain x-amz-date and x-amz-content-sha256."""
    signed = sorted(h.lower() for h in signed_headers)
    pairs = sorted((quote(n), quote(v)) for n, v in query)
    cq = "&".join("%s=%s" % p for p in pairs)
    ch = "".join("%s:%s\n" % (h, " ".join(_header(headers, h).split())) for h in signed)
    canonical = "\n".join([method, quote(path, safe="/"), cq, ch, ";".join(signed),
                           _header(headers, "x-amz-content-sha256")])
    date = _header(headers, "x-amz-date")
    scope = "%s/%s/s3/aws4_request" % (date[:8], region)
    sts = "AWS4-HMAC-SHA256\n%s\n%s\n%s" % (date, scope,
                                             hashlib.sha256(canonical.encode()).hexdigest())
    key = _hmac(("AWS4" + sk).encode(), date[:8])
    for part in (region, "s3", "aws4_request"):
        key = _hmac(key, part)
    sig = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
    return "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (
        ak, scope, ";".join(signed), sig)


# ---------------------------------------------------------------- CRC-64/ECMA

def crc64(data, crc=0):
    """Bitwise reference CRC-64/ECMA-182 (slow; for test data only)."""
    crc ^= 0xFFFFFFFFFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xC96C5795D7870F42 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFFFFFFFFFF


# ---------------------------------------------------------------- client

class Response:
    def __init__(self, resp, body):
        self.status = resp.status
        self.headers = resp.headers
        self.body = body

    def header(self, name, default=None):
        return self.headers.get(name, default)

    def xml(self):
        return ET.fromstring(self.body)

    def error_code(self):
        if self.body:
            return self.xml().findtext("Code")
        err = self.header("x-oss-err")
        return ET.fromstring(base64.b64decode(err)).findtext("Code") if err else None

    def __repr__(self):
        return "<Response %d %r>" % (self.status, self.body[:300])


class Client:
    """Signs and sends one request at a time over a keep-alive connection.

    sig: 'v4', 'v1', 's3', 'presign-v1', 'presign-v4' or 'none'.
    style: 'path' (/bucket/key) or 'vhost' (Host: bucket.localhost:port).
    """

    def __init__(self, port, ak="testak", sk="testsk", token=None, region="cn-hangzhou",
                 sig="v4", style="path", host="127.0.0.1", s3_region="us-east-1"):
        self.port, self.host = port, host
        self.ak, self.sk, self.token = ak, sk, token
        self.region, self.s3_region = region, s3_region
        self.sig, self.style = sig, style
        self.conn = None
        self.clock_offset = 0

    def close(self):
        if self.conn:
            self.conn.close()
            self.conn = None

    def url(self, bucket, key, query, style):
        if style == "vhost" or not bucket:
            path = "/" + quote(key or "", safe="/")
        else:
            path = "/%s/%s" % (bucket, quote(key or "", safe="/"))
        if query:
            path += "?" + "&".join(quote(n) if v is None else "%s=%s" % (quote(n), quote(v))
                                   for n, v in query)
        return path

    def host_header(self, bucket, style):
        if style == "vhost" and bucket:
            return "%s.localhost:%d" % (bucket, self.port)
        return "%s:%d" % (self.host, self.port)

    def sign(self, method, bucket, key, query, headers, body, sig, style):
        """Add date/auth headers (or presign query parameters) in place."""
        now = time.time() + self.clock_offset
        squery = [(n, v or "") for n, v in query]
        if sig == "v4":
            headers += [("x-oss-date", iso_basic(now)),
                        ("x-oss-content-sha256", "UNSIGNED-PAYLOAD")]
            if self.token:
                headers.append(("x-oss-security-token", self.token))
            headers.append(("Authorization", v4_authorization(
                self.ak, self.sk, self.region, method, bucket, key, squery, headers)))
        elif sig == "v1":
            headers.append(("Date", rfc1123(now)))
            if self.token:
                headers.append(("x-oss-security-token", self.token))
            headers.append(("Authorization", v1_authorization(
                self.ak, self.sk, method, bucket, key, squery, headers)))
        elif sig == "s3":
            self._sign_s3(method, bucket, key, query, headers, body, style, now)
        elif sig == "presign-v1":
            return v1_presign_query(self.ak, self.sk, method, bucket, key, squery, headers,
                                    int(now) + 600, self.token)
        elif sig == "presign-v4":
            return v4_presign_query(self.ak, self.sk, self.region, method, bucket, key,
                                    squery, headers, now, 600, self.token)
        return query

    def _sign_s3(self, method, bucket, key, query, headers, body, style, now):
        payload = (hashlib.sha256(body).hexdigest() if isinstance(body, bytes)
                   else "UNSIGNED-PAYLOAD")
        headers += [("x-amz-date", iso_basic(now)), ("x-amz-content-sha256", payload)]
        if self.token:
            headers.append(("x-amz-security-token", self.token))
        path = urllib.parse.unquote(self.url(bucket, key, None, style))
        signed = ["host", "x-amz-date", "x-amz-content-sha256"] + [
            k for k, _ in headers if k.lower().startswith("x-amz-")
            and k.lower() not in ("x-amz-date", "x-amz-content-sha256")]
        if any(k.lower() == "content-type" for k, _ in headers):
            signed.append("content-type")
        all_headers = headers + [("host", self.host_header(bucket, style))]
        headers.append(("Authorization", s3_authorization(
            self.ak, self.sk, self.s3_region, method, path,
            [(n, v or "") for n, v in query], all_headers, set(s.lower() for s in signed))))

    def request(self, method, bucket=None, key="", query=(), headers=(), body=b"",
                sig=None, style=None, content_md5=False):
        """Send one request; query is [(name, value or None)]."""
        sig, style = sig or self.sig, style or self.style
        headers, query = list(headers), list(query)
        if content_md5:
            headers.append(("Content-MD5", base64.b64encode(hashlib.md5(body).digest()).decode()))
        if sig != "none":
            query = self.sign(method, bucket, key, query, headers, body, sig, style)
        return self.send_raw(method, self.url(bucket, key, query, style),
                             [("Host", self.host_header(bucket, style))] + headers, body)

    def send_raw(self, method, url, headers, body=b""):
        """No retries: tests must see every reset and truncation."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
        try:
            self.conn.putrequest(method, url, skip_host=True, skip_accept_encoding=True)
            for k, v in headers:
                self.conn.putheader(k, v)
            if isinstance(body, bytes):
                if body or method in ("PUT", "POST"):
                    self.conn.putheader("Content-Length", str(len(body)))
                self.conn.endheaders(body or None)
            else:                                   # iterable: send chunked
                self.conn.putheader("Transfer-Encoding", "chunked")
                self.conn.endheaders()
                for chunk in body:
                    self.conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.conn.send(b"0\r\n\r\n")
            resp = self.conn.getresponse()
            data = resp.read()
        except BaseException:
            self.close()
            raise
        if resp.will_close:
            self.close()
        return Response(resp, data)


def admin(port, path, payload=None):
    """Call the server's admin API; returns the decoded JSON (or text)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        body = json.dumps(payload).encode() if payload is not None else None
        conn.request("POST" if payload is not None else "GET", path, body=body,
                     headers={"Content-Type": "application/json"} if body else {})
        resp = conn.getresponse()
        data = resp.read()
        if resp.status != 200:
            raise RuntimeError("admin %s -> %d %s" % (path, resp.status, data))
        ctype = resp.headers.get("Content-Type", "")
        return json.loads(data) if ctype.startswith("application/json") else data.decode()
    finally:
        conn.close()


def unix_from_iso(text):
    return calendar.timegm(time.strptime(text, "%Y%m%dT%H%M%SZ"))
