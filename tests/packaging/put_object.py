#!/usr/bin/env python3
"""Put one object into the bundled test server, signed with OSS V1, so
the packaging test has something to find through its mounts without
depending on the binary under test.

usage: put_object.py URL BUCKET KEY TEXT   (keys testak:testsk)
"""
import base64
import email.utils
import hashlib
import hmac
import sys
import urllib.request

AK, SK = "testak", "testsk"


def main():
    url, bucket, key, text = sys.argv[1:5]
    body = (text + "\n").encode()
    date = email.utils.formatdate(usegmt=True)
    ctype = "text/plain"
    string_to_sign = "PUT\n\n%s\n%s\n/%s/%s" % (ctype, date, bucket, key)
    sig = base64.b64encode(hmac.new(SK.encode(), string_to_sign.encode(),
                                    hashlib.sha1).digest()).decode()
    req = urllib.request.Request(
        "%s/%s/%s" % (url, bucket, key), data=body, method="PUT",
        headers={"Date": date, "Content-Type": ctype,
                 "Authorization": "OSS %s:%s" % (AK, sig)})
    with urllib.request.urlopen(req, timeout=30) as resp:
        if resp.status != 200:
            sys.exit("PUT %s: HTTP %d" % (key, resp.status))


if __name__ == "__main__":
    main()
