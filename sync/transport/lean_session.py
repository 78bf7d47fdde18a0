"""A requests Session that sends each call as it is given.

`requests.Session.request` merges, on every call, the session's headers, params, auth, cookies
and hooks into a new request, looks up the environment's proxies, CA bundle and ~/.netrc for
the URL, and after the answer extracts its cookies into the session's jar and resolves
redirects. For a push (one small POST) that was about 0.18 ms of CPU a call, close to a tenth
of the push (`bench/fullpath.py`). `LeanSession` keeps requests (its adapters, connection
pools, errors, `responses` in the tests) and drops what the portal never uses:

  - no cookie jar: a cookie one workspace's remote sets is never sent with another
    workspace's call to the same host;
  - no ~/.netrc credentials added to a call;
  - no hooks, and never a redirect followed (sync/transport/http.py's rule for every call):
    `allow_redirects=True` is refused;
  - the environment's proxies and CA bundle (when `trust_env`, as for a plain Session) are
    looked up once per scheme and host, not per call.
"""

from typing import Any
from urllib.parse import urlsplit

import requests


class LeanSession(requests.Session):
    def __init__(self) -> None:
        super().__init__()
        self._environment: dict[tuple[str, str], dict[str, Any]] = {}

    def request(  # type: ignore[override]  # the subset of Session.request the portal uses
        self,
        method: str,
        url: str,
        params: Any = None,
        data: Any = None,
        headers: Any = None,
        timeout: Any = None,
        allow_redirects: bool = False,
        verify: Any = None,
        json: Any = None,
    ) -> requests.Response:
        if allow_redirects:
            raise ValueError("LeanSession never follows redirects.")
        sent_headers = {**self.headers, **(headers or {})}
        prepared = requests.Request(
            method.upper(),
            url,
            headers={name: value for name, value in sent_headers.items() if value is not None},
            params=params,
            data=data,
            json=json,
        ).prepare()
        environment = self._environment_for(url)
        return self.send(
            prepared,
            timeout=timeout,
            verify=environment["verify"] if verify is None else verify,
            proxies=environment["proxies"],
            cert=environment["cert"],
        )

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        return self.get_adapter(request.url).send(request, **kwargs)

    def _environment_for(self, url: str) -> dict[str, Any]:
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        if key not in self._environment:
            self._environment[key] = self.merge_environment_settings(url, {}, None, None, None)
        return self._environment[key]
