"""Schemathesis hooks for localstack/fuzz-api.sh.

`cargo lambda watch`, which stands in for API Gateway locally, answers 500 itself (naiq is
never called) to a request whose header values are not ASCII or whose JSON body is not
UTF-8: it cannot put them into the Lambda event. Such cases are left out here; naiq's own
answers to both (400) are checked in-process by functions/api's tests
(`bytes_the_emulator_cannot_carry_are_400s`).
"""

import schemathesis


def _deliverable(case) -> bool:
    for value in (case.headers or {}).values():
        if isinstance(value, str) and not value.isascii():
            return False
    body = case.body
    if isinstance(body, (bytes, bytearray)):
        try:
            bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            return False
    return True


@schemathesis.hook
def filter_case(context, case):
    return _deliverable(case)
