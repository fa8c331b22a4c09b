"""Schemathesis hooks for localstack/fuzz-api.sh.

`cargo lambda watch`, which stands in for API Gateway locally, answers 500 itself (naiq is
never called) to a request whose header values are not ASCII or whose JSON body is not
UTF-8: it cannot put them into the Lambda event. It does the same for a `multipart/*`
Content-Type without a `boundary` (seen on `GET /openapi.json`): it tries to parse the
body as form data before naiq sees the request. Such cases are left out here; naiq's own
answers to the first two (400) are checked in-process by functions/api's tests
(`bytes_the_emulator_cannot_carry_are_400s`), and naiq never reads a multipart body.

A body with a `webhook_url` other than a loopback one is left out too: the local stack
allows http and private receivers (WEBHOOK_ALLOW_PRIVATE), so a generated URL would send
its webhook (and a DNS query) off this machine. The URL's checks are tested in-process
(functions/api's `a_webhook_url_at_an_ip_literal_or_over_http_is_a_400_naming_it`).
"""

import schemathesis


def _deliverable(case) -> bool:
    for name, value in (case.headers or {}).items():
        if isinstance(value, str) and not value.isascii():
            return False
        if (
            name.lower() == "content-type"
            and isinstance(value, str)
            and value.lower().startswith("multipart/")
            and "boundary=" not in value.lower()
        ):
            return False
    media_type = getattr(case, "media_type", None)
    if isinstance(media_type, str) and media_type.lower().startswith("multipart/") and case.body is None:
        return False
    body = case.body
    if isinstance(body, dict) and "webhook_url" in body:
        if not str(body["webhook_url"]).startswith("http://127.0.0.1:"):
            return False
    if isinstance(body, (bytes, bytearray)):
        try:
            bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            return False
    return True


@schemathesis.hook
def filter_case(context, case):
    return _deliverable(case)
