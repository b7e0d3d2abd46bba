# Plants an entry in a pip (23.0) HTTP cache, as an earlier build could have: URL -> a wheel
# NAME-VERSION whose module NAME says PLANTED. Run by Debian's python3.11 (its pip's format).
# Usage: forge_pip_cache.py HTTP_CACHE_DIR URL NAME VERSION
import base64, email.utils, hashlib, io, sys, zipfile
from pip._internal.network.cache import SafeFileCache
from pip._vendor.cachecontrol.controller import CacheController
from pip._vendor.cachecontrol.serialize import Serializer
from pip._vendor.requests import Request
from pip._vendor.urllib3 import HTTPResponse

http_cache, url, name, version = sys.argv[1:5]
files = {
    f"{name}.py": b'def hello():\n    return "PLANTED"\n',
    f"{name}-{version}.dist-info/METADATA":
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
    f"{name}-{version}.dist-info/WHEEL":
        b"Wheel-Version: 1.0\nGenerator: forge\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
record = ""
out = io.BytesIO()
with zipfile.ZipFile(out, "w") as wheel:
    for path, data in files.items():
        wheel.writestr(path, data)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record += f"{path},sha256={digest},{len(data)}\n"
    record += f"{name}-{version}.dist-info/RECORD,,\n"
    wheel.writestr(f"{name}-{version}.dist-info/RECORD", record)
body = out.getvalue()
headers = {"Content-Type": "application/octet-stream", "Content-Length": str(len(body)),
           "Cache-Control": "max-age=31536000", "Date": email.utils.formatdate(usegmt=True)}
response = HTTPResponse(body=io.BytesIO(body), headers=headers, status=200, version=11,
                        reason="OK", preload_content=False, decode_content=False)
data = Serializer().dumps(Request("GET", url).prepare(), response, body)
SafeFileCache(http_cache).set(CacheController.cache_url(url), data)
