"""schemathesis hooks of the contract test (tests/tests/openapi_contract.rs).

Two values of this API are not the client's to make up, and the fuzzer cannot know them:

- An `Idempotency-Key` names one request: the same key with another body is refused (422, which
  the Rust tests prove). The fuzzer draws keys from a small space and would reuse one with other
  bodies, so in a schema-valid case each well-formed key is made unique to its request.
- A `next_token` is only ever one that the same list returned (any other is 400, which the Rust
  tests prove). A schema-valid case does not send a drawn one.

Cases meant to be refused (negative mode) are sent exactly as drawn.
"""

import itertools
import re

import schemathesis

KEY = re.compile(r"^[!-~]{1,255}$")
_serial = itertools.count()


def _positive(case):
    meta = case.meta
    return meta is not None and meta.generation.mode.is_positive


@schemathesis.hook
def before_call(context, case, kwargs):
    if not _positive(case):
        return
    key = (case.headers or {}).get("Idempotency-Key")
    if isinstance(key, str) and KEY.match(key):
        suffix = f".{next(_serial)}"
        case.headers["Idempotency-Key"] = key[: 255 - len(suffix)] + suffix
    if case.query and "next_token" in case.query:
        del case.query["next_token"]
